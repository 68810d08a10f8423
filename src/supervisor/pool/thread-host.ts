import type { TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { MAX_CONCURRENCY } from '../../limits.js';
import type { Logger } from '../../log.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import {
  isOutputDropReport,
  type OutputDropReport,
  type StreamEnd,
  type StreamTask,
} from '../thread/messages.js';
import { handlerEntryFile } from './entry-file.js';
import type { StreamRun } from './thread-stream.js';

/** What a pool needs from where its streams run: threads or processes (process/process-host.ts). */
export interface WorkerHost {
  readonly kind: 'thread' | 'process';
  run(task: StreamTask, transfer: TransferListItem[]): StreamRun;
  /** Once every stream has ended: lets the workers go. */
  close(): Promise<void>;
  /** Ends every worker at once; their streams end as deaths. */
  destroy(): Promise<void>;
}

/**
 * Handler threads: a piscina pool with one long task per thread, its job stream. Each
 * run() starts a thread for its stream (the pool, pool/thread-set.ts, decides how many
 * run), and a thread whose stream has ended leaves at once: piscina keeps none idle and
 * replaces none on its own.
 */
export class ThreadHost implements WorkerHost {
  readonly kind = 'thread';
  readonly #piscina: Piscina;

  constructor(config: ModuleFunctionConfig, log: Logger, outputDropped: (report: OutputDropReport) => void) {
    this.#piscina = new Piscina({
      filename: handlerEntryFile(),
      name: 'default',
      minThreads: 0,
      // The pool bounds its streams; this only has to stay out of its way (a resize may raise it).
      maxThreads: MAX_CONCURRENCY,
      // One task per thread: its job stream, which lives as long as the thread serves.
      concurrentTasksPerWorker: 1,
      // A thread whose stream ended was retired on purpose: idle time was the pool's to count.
      idleTimeout: 0,
      // Tasks are rare (one per thread start), so piscina's Atomics.wait fast path buys nothing.
      atomics: 'disabled',
      ...(config.maxMemoryMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: config.maxMemoryMb } }),
    });
    // A thread that fails between streams is worth a log line, not a crash.
    this.#piscina.on('error', (err: Error) => log.warn({ err }, 'handler thread failed while idle'));
    this.#piscina.on('message', (message: unknown) => {
      if (isOutputDropReport(message)) outputDropped(message);
    });
  }

  run(task: StreamTask, transfer: TransferListItem[]): StreamRun {
    const piscina = this.#piscina;
    return {
      ended: piscina.run(task, { transferList: transfer }) as Promise<StreamEnd>,
      terminate(threadId) {
        const thread = piscina.threads.find((worker) => worker.threadId === threadId);
        if (thread === undefined) return false;
        thread.terminate().catch(() => {});
        return true;
      },
    };
  }

  close(): Promise<void> {
    return this.#piscina.close();
  }

  destroy(): Promise<void> {
    return this.#piscina.destroy();
  }
}
