import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import type { Client } from '../../client/client.js';
import type { ForegroundJob } from '../../client/job.js';
import type { Priority } from '../../client/submit-options.js';
import { GearmanError } from '../../errors.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../protocol/constants.js';
import { errorText } from '../submit-common.js';
import { BatchStats, formatSummary } from './batch-stats.js';
import { LineReader } from './line-reader.js';
import { Progress } from './progress.js';
import { type JobRecord, RecordSink } from './record-sink.js';
import { Window } from './window.js';

/** How a batch runs: its flags, checked. */
export interface BatchRunOptions {
  readonly fn: string;
  readonly background: boolean;
  readonly priority: Priority | undefined;
  readonly timeoutMs: number | undefined;
  /** Jobs in flight (and results waiting to be written in order) at most. */
  readonly window: number;
  readonly keepEmpty: boolean;
  readonly uniqueFromLine: boolean;
  readonly ordered: boolean;
  readonly progressIntervalMs: number;
  readonly quiet: boolean;
  /** Stop starting jobs after this many failures; 0 for never. */
  readonly maxFailures: number;
}

/** The lines to read: a stream, its size when it is a regular file, its name for messages. */
export interface BatchInput {
  readonly stream: Readable;
  readonly size: number | null;
  readonly name: string;
}

/** Where the outcomes go; null for none. */
export interface BatchOutputs {
  readonly results: Writable | null;
  readonly handles: Writable | null;
  /** Progress, messages and the summary. */
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
}

/** The unique of a line: 32 hex digits (128 bits) of its SHA-256, well inside the 64-byte limit. */
export function lineUnique(payload: Buffer): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 32);
}

/**
 * One run of a batch: reads lines as the window lets it, submits each as a job, records
 * outcomes, shows progress, and returns the exit status (0 when every job succeeded).
 */
export class BatchRun {
  readonly #options: BatchRunOptions;
  readonly #client: Client;
  readonly #input: BatchInput;
  readonly #stderr: BatchOutputs['stderr'];
  readonly #reader: LineReader;
  readonly #stats: BatchStats;
  readonly #window: Window;
  readonly #sink: RecordSink;
  /** --max-failures reached: no more jobs are started. */
  #stopped = false;
  /** A line was left unsubmitted because of it. */
  #cutShort = false;
  #lastLine = 0;

  constructor(options: BatchRunOptions, client: Client, input: BatchInput, outputs: BatchOutputs) {
    this.#options = options;
    this.#client = client;
    this.#input = input;
    this.#stderr = outputs.stderr;
    const reader = new LineReader(input.stream, {
      keepEmpty: options.keepEmpty,
      maxLineBytes: DEFAULT_MAX_FRAME_SIZE,
    });
    this.#reader = reader;
    this.#stats = new BatchStats({
      get position() {
        return reader.position;
      },
      size: input.size,
    });
    this.#window = new Window(options.window);
    this.#sink = new RecordSink({
      results: outputs.results,
      handles: outputs.handles,
      // Handles are matched to lines by their order, so they are always written in order.
      ordered: options.ordered || outputs.handles !== null,
      written: () => this.#window.release(),
    });
  }

  async run(): Promise<number> {
    const stderr = this.#stderr;
    const progress = new Progress(stderr, () => this.#stats.snapshot(), {
      tty: stderr.isTTY === true,
      ...(stderr.columns === undefined ? {} : { columns: stderr.columns }),
      intervalMs: this.#options.progressIntervalMs,
      prefix: 'gworker submit: ',
    });
    if (!this.#options.quiet) progress.start();
    let readError: unknown = null;
    try {
      await this.#feed();
    } catch (err) {
      readError = err;
    }
    this.#stats.inputEnded();
    await this.#window.idle();
    progress.stop();
    if (readError !== null) {
      stderr.write(`gworker submit: cannot read ${this.#input.name}: ${errorText(readError)}\n`);
    }
    if (this.#cutShort) {
      stderr.write(
        `gworker submit: stopped after ${this.#stats.failed} failures (--max-failures); ` +
          `lines after ${this.#lastLine} were not submitted\n`,
      );
    }
    stderr.write(`gworker submit: ${formatSummary(this.#stats)}\n`);
    return readError === null && !this.#cutShort && this.#stats.failed === 0 ? 0 : 1;
  }

  async #feed(): Promise<void> {
    for await (const line of this.#reader) {
      const wait = this.#window.acquire();
      if (wait !== undefined) await wait;
      if (this.#sink.needDrain) await this.#sink.drained();
      if (this.#stopped) {
        this.#window.release();
        this.#cutShort = true;
        return;
      }
      this.#lastLine = line.number;
      this.#start(line.number, line.payload);
    }
  }

  #start(lineNumber: number, payload: Buffer): void {
    const options = this.#options;
    const index = this.#stats.started();
    const startedAt = performance.now();
    const submitOptions = {
      ...(options.uniqueFromLine ? { unique: lineUnique(payload) } : {}),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    };
    const done = (record: Omit<JobRecord, 'index' | 'line'>): void => {
      this.#stats.finished(record.ok, performance.now() - startedAt);
      if (!record.ok && options.maxFailures > 0 && this.#stats.failed >= options.maxFailures) {
        this.#stopped = true;
      }
      this.#sink.add({ index, line: lineNumber, ...record });
    };
    if (options.background) {
      this.#client.submitBackground(options.fn, payload, submitOptions).then(
        (handle) => done({ handle, ok: true }),
        (err: unknown) => done({ handle: null, ok: false, ...failure(err) }),
      );
      return;
    }
    const job = this.#client.submit(options.fn, payload, submitOptions);
    job.result.then(
      async (result) => done({ handle: job.handle ?? null, ok: true, result: await withData(job, result) }),
      (err: unknown) => done({ handle: job.handle ?? null, ok: false, ...failure(err) }),
    );
  }
}

/**
 * The job's WORK_DATA chunks, then its WORK_COMPLETE data, as `gworker submit` prints
 * them: many workers stream the result as data and complete with nothing. The job kept
 * its updates since nobody iterated it; reading them now costs no waiting.
 */
async function withData(job: ForegroundJob, result: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const update of job) if (update.type === 'data') chunks.push(update.data);
  if (chunks.length === 0) return result;
  chunks.push(result);
  return Buffer.concat(chunks);
}

function failure(err: unknown): { error: string; code?: string } {
  return err instanceof GearmanError ? { error: errorText(err), code: err.code } : { error: errorText(err) };
}
