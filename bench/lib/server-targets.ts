/**
 * The job servers the server bench compares, each started fresh on 127.0.0.1 and a free
 * port: gearmand 1.1.20 (default threads, memory queue; or its libsqlite3 queue) and our
 * `gworker server` (memory; or `--store FILE`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { kRepoRoot, Peer } from './processes.js';

export type ServerKind = 'gearmand' | 'gearmand-sqlite' | 'gworker' | 'gworker-store';

export interface BenchServer {
  readonly kind: ServerKind;
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its store file. */
  stop(): Promise<void>;
}

/** Whether `gworker server --help` lists --store (the SQLite job store). */
export function serverHasStore(): boolean {
  try {
    const out = execFileSync(process.execPath, ['bin/gworker.js', 'server', '--help'], {
      cwd: kRepoRoot,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return out.includes('--store');
  } catch {
    return false;
  }
}

/**
 * Starts one server. gearmand logs errors only; ours logs warnings and up (both to
 * stderr, which the bench keeps for a failure message). With `profileDir`, our server
 * runs under `--cpu-prof` and writes its profile there when stopped.
 */
export async function startBenchServer(
  kind: ServerKind,
  options: { profileDir?: string | undefined } = {},
): Promise<BenchServer> {
  const port = await freePort();
  const dir =
    kind.endsWith('sqlite') || kind.endsWith('store')
      ? mkdtempSync(join(tmpdir(), 'gworker-bench-store-'))
      : null;
  let peer: Peer;
  if (kind === 'gearmand' || kind === 'gearmand-sqlite') {
    const args = ['--listen=127.0.0.1', `--port=${port}`, '--log-file=stderr', '--verbose=ERROR'];
    if (dir !== null) args.push('--queue-type=libsqlite3', `--libsqlite3-db=${join(dir, 'queue.db')}`);
    peer = new Peer(kind, 'gearmand', args);
  } else {
    const flags =
      options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir];
    const args = [...flags, 'bin/gworker.js', 'server', '--listen', '127.0.0.1', '--port', String(port)];
    args.push('--log-level', 'warn');
    if (dir !== null) args.push('--store', join(dir, 'jobs.db'));
    peer = new Peer(kind, process.execPath, args);
  }
  const cleanup = (): void => {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 30_000, peer);
  } catch (err) {
    await peer.kill();
    cleanup();
    throw err;
  }
  return {
    kind,
    port,
    pid: peer.child.pid ?? -1,
    stop: async () => {
      if (!peer.exited) {
        peer.child.kill('SIGTERM');
        await peer.stop(3000);
      }
      cleanup();
    },
  };
}
