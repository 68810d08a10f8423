#!/usr/bin/env node
// In a git checkout the TypeScript sources are there: run them through tsx, so the
// command always matches the code. An installed package has only dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source);
} else {
  await import('../dist/cli/main.js');
}
