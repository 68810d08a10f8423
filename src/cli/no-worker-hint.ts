import { AdminClient } from '../client/admin-client.js';
import type { ForegroundJob } from '../client/job.js';
import type { TlsOptions } from '../net/address.js';

/** How long a foreground job waits before `gworker submit` asks the server whether anyone serves it. */
export const kNoWorkerHintDelayMs = 3000;

/**
 * After a few seconds without an answer, asks the job's server (admin `status`) whether
 * any worker has registered the function, and says so on stderr when none has: a job
 * for a function nobody serves otherwise waits in silence. The job keeps waiting; a
 * server that cannot tell (no admin protocol, an error) gets no hint. Returns a stop function.
 */
export function watchForNoWorker(
  job: ForegroundJob,
  tls: TlsOptions | undefined,
  stderr: NodeJS.WritableStream,
  delayMs = kNoWorkerHintDelayMs,
): () => void {
  let stopped = false;
  const timer = setTimeout(async () => {
    const server = job.server;
    if (server === undefined || job.settled) return;
    const admin = new AdminClient({
      server,
      ...(tls === undefined ? {} : { tls }),
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
    });
    try {
      const row = (await admin.status()).find((r) => r.function === job.functionName);
      if (!stopped && !job.settled && (row === undefined || row.availableWorkers === 0)) {
        stderr.write(
          `gworker submit: no worker has registered ${job.functionName} on ${server}; still waiting (Ctrl-C to stop)\n`,
        );
      }
    } catch {
      // The server cannot tell: no hint, the job goes on waiting.
    } finally {
      await admin.close().catch(() => {});
    }
  }, delayMs);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** On a terminal, output that does not end a line gets a newline so the prompt starts on its own line; never in a pipe. */
export function needsFinalNewline(isTTY: boolean | undefined, lastByte: number | undefined): boolean {
  return isTTY === true && lastByte !== undefined && lastByte !== 0x0a;
}
