import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import {
  type ControlListen,
  formatControlAddress,
  parseControlAddress,
} from '../supervisor/control/listen-address.js';
import { manifestId } from '../supervisor/control/manifest-id.js';

/**
 * Where a running supervisor says where its control API listens when the manifest let
 * it pick a free port (`control.listen: 0`): one small JSON file per manifest, named
 * after manifestId(), so that `gworker status -c MANIFEST` finds it from the manifest
 * alone. The folder is $GWORKER_RUN_DIR, else $XDG_RUNTIME_DIR/gworker (per user,
 * emptied at logout or reboot), else gworker-UID in the temp folder.
 */
export function runDir(env: NodeJS.ProcessEnv): string {
  if (env.GWORKER_RUN_DIR) return path.resolve(env.GWORKER_RUN_DIR);
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'gworker');
  return path.join(tmpdir(), `gworker-${userInfo().uid}`);
}

export function runFilePath(manifestFile: string, env: NodeJS.ProcessEnv): string {
  return path.join(runDir(env), `control-${manifestId(manifestFile)}.json`);
}

export interface RunFile {
  readonly pid: number;
  readonly manifest: string;
  readonly control: string;
}

/** Writes the run file (atomically, readable by this user only); returns its removal. */
export function writeRunFile(
  manifestFile: string,
  address: ControlListen,
  env: NodeJS.ProcessEnv,
): () => void {
  const file = runFilePath(manifestFile, env);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const content: RunFile = {
    pid: process.pid,
    manifest: manifestFile,
    control: formatControlAddress(address),
  };
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(content)}\n`, { mode: 0o600 });
  renameSync(partial, file);
  return () => {
    // Only our own: a supervisor started since for the same manifest may have replaced it.
    if (readRunFile(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}

/**
 * The control address a running supervisor of `manifestFile` left, or null when there is
 * no run file or the process that wrote it is gone (a crash leaves the file behind).
 */
export function findControlAddress(manifestFile: string, env: NodeJS.ProcessEnv): ControlListen | null {
  const run = readRunFile(runFilePath(manifestFile, env));
  if (run === null || !alive(run.pid)) return null;
  try {
    return parseControlAddress(run.control);
  } catch {
    return null;
  }
}

function readRunFile(file: string): RunFile | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunFile>;
    if (typeof parsed.pid !== 'number' || typeof parsed.control !== 'string') return null;
    return parsed as RunFile;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, run by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
