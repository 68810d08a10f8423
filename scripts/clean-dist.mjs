// Empties dist/ before a build, so that a module deleted or renamed in src/ does not
// linger in the package as a stale .js or .d.ts that nothing builds any more.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true });
