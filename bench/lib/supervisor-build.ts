/**
 * The package as an install runs it: src compiled with tsconfig.build.json into a scratch
 * folder (with the checkout's package.json and node_modules next to it), so that a
 * supervisor can also be measured without tsx. In a checkout, `bin/gworker.js` runs the
 * TypeScript sources through tsx, and every handler thread loads its entry through tsx
 * too (with a loader thread of its own): that costs memory and thread start-up time an
 * installed package does not pay.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kRepoRoot } from './processes.js';

let build: Promise<string | null> | undefined;

/**
 * The compiled CLI entry (`dist/cli/main.js`), built once per bench run; null when the
 * build produced no entry (the reason goes to `progress`). Type errors elsewhere in the
 * checkout do not stop tsc from emitting, so work in progress does not block it.
 */
export function builtEntry(progress: (line: string) => void): Promise<string | null> {
  build ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gworker-bench-build-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(join(kRepoRoot, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(kRepoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const tsc = join(kRepoRoot, 'node_modules', '.bin', 'tsc');
    progress('compiling src for the built-package rows (tsc -p tsconfig.build.json)...');
    const failure = await new Promise<string | null>((resolve) => {
      execFile(
        tsc,
        [
          '-p',
          'tsconfig.build.json',
          '--outDir',
          join(dir, 'dist'),
          '--sourceMap',
          'false',
          '--declaration',
          'false',
        ],
        { cwd: kRepoRoot, timeout: 180_000 },
        (err, stdout) =>
          resolve(err === null ? null : stdout.split('\n').slice(0, 3).join(' ') || err.message),
      );
    });
    const entry = join(dir, 'dist', 'cli', 'main.js');
    const thread = join(dir, 'dist', 'supervisor', 'thread', 'handler-entry.js');
    if (existsSync(entry) && existsSync(thread)) return entry;
    progress(`no built package: ${failure ?? 'tsc emitted no dist/cli/main.js'}`);
    return null;
  })();
  return build;
}
