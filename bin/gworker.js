#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: V8's GC helper threads are shared by the supervisor and every
// handler thread; on a box whose cores the handler threads keep busy they only compete
// for those cores (measured: ~15% more CPU per CPU-bound job without it; see
// docs/operations.md). Running `node bin/gworker.js` without the flag works the same.
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
