import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Interop tests start real gearmand processes on free ports; two files at a time
    // keeps a 2-core machine responsive.
    fileParallelism: true,
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      thresholds: { lines: 80, branches: 70 },
    },
  },
});
