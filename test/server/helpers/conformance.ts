import type { ChildProcess } from 'node:child_process';
import { afterEach, describe } from 'vitest';
import { describeWithPeers, killAll, type Peer } from '../../helpers/peers.js';
import { closeAllRawClients } from './raw-client.js';
import { type RunningTarget, type Target, type TargetOptions, targets } from './targets.js';

export interface ConformanceContext {
  readonly target: Target;
  /** Starts the target server for this test; it is stopped after the test. */
  start(options?: TargetOptions): Promise<RunningTarget>;
}

/**
 * One scenario block per server: the same tests run against gearmand 1.1.20 and gworker's
 * server, and must observe the same results. Needs gearmand (and any other `peers`);
 * skipped locally without them, failed with GWORKER_REQUIRE_PEERS=1.
 */
export function describeConformance(
  name: string,
  peers: readonly Peer[],
  body: (ctx: ConformanceContext) => void,
): void {
  describeWithPeers(['gearmand', ...peers], name, () => {
    for (const target of targets) {
      describe(target.name, () => {
        const running: RunningTarget[] = [];
        afterEach(async () => {
          closeAllRawClients();
          await killAll();
          await Promise.all(running.splice(0).map((server) => server.stop()));
        });
        body({
          target,
          async start(options) {
            const server = await target.start(options);
            running.push(server);
            return server;
          },
        });
      });
    }
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolves with the first stdout line of `child` that matches, or fails after `timeoutMs`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(buffer)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((text) => pattern.test(text));
      if (line !== undefined) {
        cleanup();
        resolve(line);
      }
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`exited before a line matching ${pattern}; got ${JSON.stringify(buffer)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
