import type { ChildProcess } from 'node:child_process';
import { freePort, spawnTracked, stopProcess, waitForPort } from './peers.js';

export interface GearmandHandle {
  readonly port: number;
  readonly address: string;
  /** Everything gearmand printed (it logs to stderr). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and starts a fresh one on the same port (queues are lost, as in a real restart). */
  restart(): Promise<void>;
}

/**
 * Starts the real gearmand 1.1.20 on 127.0.0.1 and a free port, in the foreground so the
 * test owns the process. `args` adds options such as `--job-retries=2`.
 */
export async function startGearmand(args: readonly string[] = []): Promise<GearmandHandle> {
  const port = await freePort();
  let output = '';
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawnTracked(
      'gearmand',
      ['--listen=127.0.0.1', `--port=${port}`, '--log-file=stderr', '--verbose=ERROR', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitForPort(port);
  };
  await launch();
  return {
    port,
    address: `127.0.0.1:${port}`,
    output: () => output,
    stop: (signal = 'SIGTERM') => stopProcess(child, signal),
    restart: async () => {
      await stopProcess(child, 'SIGKILL');
      await launch();
    },
  };
}
