import { execFileSync } from 'node:child_process';
import { freePort, waitForPort } from './ports.js';
import { Peer } from './processes.js';

/** A gearmand the bench started: 127.0.0.1, a free port, its default thread count. */
export interface BenchGearmand {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts a fresh gearmand with its default threads (no `-t`: 4 I/O threads in 1.1.20,
 * as a packaged server runs), memory queue, logging errors only.
 */
export async function startGearmand(): Promise<BenchGearmand> {
  const port = await freePort();
  const peer = new Peer('gearmand', 'gearmand', [
    '--listen=127.0.0.1',
    `--port=${port}`,
    '--log-file=stderr',
    '--verbose=ERROR',
  ]);
  try {
    await waitForPort(port, 10_000, peer);
  } catch (err) {
    await peer.kill();
    throw err;
  }
  return {
    port,
    stop: async () => {
      if (peer.exited) return;
      peer.child.kill('SIGTERM');
      await peer.stop(1000);
    },
  };
}

/** `gearmand --version`, e.g. `1.1.20+ds`, or `unknown`. */
export function gearmandVersion(): string {
  try {
    const out = execFileSync('gearmand', ['--version'], { encoding: 'utf8' });
    return /gearmand\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Whether gearmand and PHP with the gearman extension are installed. */
export function missingPeers(): string[] {
  const missing: string[] = [];
  try {
    execFileSync('gearmand', ['--version'], { stdio: 'ignore' });
  } catch {
    missing.push('gearmand');
  }
  try {
    const out = execFileSync('php', ['-r', 'echo extension_loaded("gearman") ? "yes" : "no";'], {
      encoding: 'utf8',
    });
    if (out !== 'yes') missing.push('php-gearman');
  } catch {
    missing.push('php');
  }
  return missing;
}
