import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Client } from '../../client/client.js';
import type { Priority } from '../../client/submit-options.js';
import { GearmanError } from '../../errors.js';
import type { TlsOptions } from '../../net/address.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../protocol/constants.js';
import { BatchStats, formatSummary } from '../batch/batch-stats.js';
import { LineReader } from '../batch/line-reader.js';
import { Progress } from '../batch/progress.js';
import { type JobRecord, RecordSink } from '../batch/record-sink.js';
import { Window } from '../batch/window.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { errorText, openClient } from './submit-common.js';

/** parseArgs config of the flags only `gworker submit --batch` takes. */
export const kBatchOptions = {
  batch: { type: 'string' },
  window: { type: 'string' },
  'keep-empty': { type: 'boolean' },
  'unique-from-line': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  results: { type: 'string' },
  ordered: { type: 'boolean' },
  'progress-interval': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'max-failures': { type: 'string' },
} as const;

/** Their part of `gworker submit --help`. */
export const kBatchUsage = `batch mode (--batch FILE):
      --batch FILE          submit each line of FILE ('-': standard input) as a job of
                            --function, reading as it goes (files of any size)
      --window N            jobs in flight at most; reading waits while it is full (default 64)
      --keep-empty          submit blank lines too (as empty payloads; skipped by default)
      --unique-from-line    give each job a unique made from its line's hash (SHA-256), so
                            a rerun, or a repeated line, joins the job already there
      --results FILE        write one JSON line per job ('-': standard output):
                            {"line":N,"handle":H,"ok":true,"result":"..."} or
                            {"line":N,"handle":H,"ok":false,"error":"...","code":"..."}
                            (a result that is not UTF-8 is "resultBase64")
      --ordered             write results in input order (default: as jobs finish)
  -o, --output FILE         with --background: where the handles go, one per line in input
                            order, an empty line for a refused job (default: standard output)
      --max-failures N      stop submitting after N failures (jobs in flight still finish)
      --progress-interval S seconds between progress lines when stderr is not a terminal
                            (default 10; a terminal gets a bar redrawn 10 times a second)
  -q, --quiet               no progress display (the summary is still printed)

  A summary goes to standard error at the end: jobs done, failed, jobs/s, p50 and p99
  latency (to the result; to JOB_CREATED with --background). Exit status 0 when every job
  succeeded, 1 when any failed, could not be submitted, or the input could not be read.
`;

export interface BatchValues {
  readonly batch?: string | undefined;
  readonly window?: string | undefined;
  readonly 'keep-empty'?: boolean | undefined;
  readonly 'unique-from-line'?: boolean | undefined;
  readonly output?: string | undefined;
  readonly results?: string | undefined;
  readonly ordered?: boolean | undefined;
  readonly 'progress-interval'?: string | undefined;
  readonly quiet?: boolean | undefined;
  readonly 'max-failures'?: string | undefined;
}

/** What the batch needs from `gworker submit`'s shared flags, already checked. */
export interface BatchJobArgs {
  readonly fn: string;
  readonly servers: readonly string[];
  readonly background: boolean;
  readonly priority: Priority | undefined;
  readonly timeoutMs: number | undefined;
  readonly tls: TlsOptions | undefined;
}

interface BatchArgs extends BatchJobArgs {
  readonly input: string;
  readonly window: number;
  readonly keepEmpty: boolean;
  readonly uniqueFromLine: boolean;
  readonly output: string | undefined;
  readonly results: string | undefined;
  readonly ordered: boolean;
  readonly progressIntervalMs: number;
  readonly quiet: boolean;
  readonly maxFailures: number;
}

const kMaxWindow = 100_000;

/** True when any batch-only flag is set (they make no sense without --batch). */
export function usesBatchFlags(values: BatchValues): boolean {
  return Object.keys(kBatchOptions).some((name) => values[name as keyof BatchValues] !== undefined);
}

function positiveInteger(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`--${flag} must be an integer from 1 to ${max}, got "${text}"`);
  }
  return Number(text);
}

function checkArgs(job: BatchJobArgs, values: BatchValues): BatchArgs {
  const input = values.batch as string;
  if (input === '') throw new UsageError('--batch needs a file (or - for standard input)');
  if (values.output !== undefined && !job.background) throw new UsageError('--output goes with --background');
  if (values.output === '-' && values.results === '-') {
    throw new UsageError('--output and --results cannot both be standard output');
  }
  for (const flag of ['output', 'results'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a file (or - for standard output)`);
  }
  let progressIntervalMs = 10_000;
  const interval = values['progress-interval'];
  if (interval !== undefined) {
    const seconds = Number(interval);
    if (!(Number.isFinite(seconds) && seconds > 0)) {
      throw new UsageError('--progress-interval must be a positive number of seconds');
    }
    progressIntervalMs = seconds * 1000;
  }
  return {
    ...job,
    input,
    window: positiveInteger('window', values.window, 64, kMaxWindow),
    keepEmpty: values['keep-empty'] === true,
    uniqueFromLine: values['unique-from-line'] === true,
    output: values.output,
    results: values.results,
    ordered: values.ordered === true,
    progressIntervalMs,
    quiet: values.quiet === true,
    maxFailures: positiveInteger('max-failures', values['max-failures'], 0, Number.MAX_SAFE_INTEGER),
  };
}

/** The unique of a line: 32 hex digits (128 bits) of its SHA-256, well inside the 64-byte limit. */
export function lineUnique(payload: Buffer): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 32);
}

interface Input {
  readonly stream: Readable;
  readonly size: number | null;
}

/** Opens the input now, so a missing file fails before anything is submitted. */
function openInput(path: string, io: CliIo): Input {
  if (path === '-') return { stream: io.stdin, size: null };
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new Error(`${path} is a directory`);
    return {
      stream: createReadStream(path, { fd, highWaterMark: 64 * 1024 }),
      size: stat.isFile() ? stat.size : null,
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

interface Output {
  readonly stream: Writable;
  close(): Promise<void>;
}

function openOutput(path: string | undefined, io: CliIo, fallback: Writable | null): Output | null {
  if (path === undefined) return fallback === null ? null : { stream: fallback, close: async () => {} };
  if (path === '-') return { stream: io.stdout, close: async () => {} };
  const stream = createWriteStream(path, { fd: openSync(path, 'w') });
  return {
    stream,
    close: async () => {
      stream.end();
      await finished(stream);
    },
  };
}

/** `gworker submit --batch`: returns the exit status. */
export async function runBatch(job: BatchJobArgs, values: BatchValues, io: CliIo): Promise<number> {
  const args = checkArgs(job, values);
  const input = openInput(args.input, io);
  const outputs: Output[] = [];
  try {
    const results = openOutput(args.results, io, null);
    if (results !== null) outputs.push(results);
    const handles = args.background ? openOutput(args.output, io, io.stdout) : null;
    if (handles !== null) outputs.push(handles);
    const client = openClient(args.servers, args.tls);
    try {
      return await new BatchRun(
        args,
        client,
        input,
        io,
        results?.stream ?? null,
        handles?.stream ?? null,
      ).run();
    } finally {
      await client.close();
    }
  } finally {
    // A file read to its end is closed already; one left early (an output failed to open) is not.
    if (input.stream !== io.stdin) input.stream.destroy();
    for (const output of outputs) await output.close();
  }
}

/** One run of a batch: reads lines, keeps the window full, records outcomes. */
class BatchRun {
  readonly #args: BatchArgs;
  readonly #client: Client;
  readonly #io: CliIo;
  readonly #reader: LineReader;
  readonly #stats: BatchStats;
  readonly #window: Window;
  readonly #sink: RecordSink;
  /** --max-failures reached: no more jobs are started. */
  #stopped = false;
  /** A line was left unsubmitted because of it. */
  #cutShort = false;
  #lastLine = 0;

  constructor(
    args: BatchArgs,
    client: Client,
    input: Input,
    io: CliIo,
    results: Writable | null,
    handles: Writable | null,
  ) {
    this.#args = args;
    this.#client = client;
    this.#io = io;
    this.#reader = new LineReader(input.stream, {
      keepEmpty: args.keepEmpty,
      maxLineBytes: DEFAULT_MAX_FRAME_SIZE,
    });
    const reader = this.#reader;
    this.#stats = new BatchStats({
      get position() {
        return reader.position;
      },
      size: input.size,
    });
    this.#window = new Window(args.window);
    this.#sink = new RecordSink({
      results,
      handles,
      // Handles are matched to lines by their order, so they are always written in order.
      ordered: args.ordered || handles !== null,
      written: () => this.#window.release(),
    });
  }

  async run(): Promise<number> {
    const stderr = this.#io.stderr as Writable & { isTTY?: boolean; columns?: number };
    const progress = new Progress(stderr, () => this.#stats.snapshot(), {
      tty: stderr.isTTY === true,
      ...(stderr.columns === undefined ? {} : { columns: stderr.columns }),
      intervalMs: this.#args.progressIntervalMs,
      prefix: 'gworker submit: ',
    });
    if (!this.#args.quiet) progress.start();
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
      stderr.write(`gworker submit: cannot read ${this.#inputName()}: ${errorText(readError)}\n`);
    }
    if (this.#cutShort) {
      stderr.write(
        `gworker submit: stopped after ${this.#stats.failed} failures (--max-failures); ` +
          `lines after ${this.#lastLine} were not submitted\n`,
      );
    }
    stderr.write(`gworker submit: ${formatSummary(this.#stats)}\n`);
    return readError === null && !this.#stopped && this.#stats.failed === 0 ? 0 : 1;
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
    const args = this.#args;
    const index = this.#stats.started();
    const startedAt = performance.now();
    const options = {
      ...(args.uniqueFromLine ? { unique: lineUnique(payload) } : {}),
      ...(args.priority === undefined ? {} : { priority: args.priority }),
      ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
    };
    const done = (record: Omit<JobRecord, 'index' | 'line'>): void => {
      this.#stats.finished(record.ok, performance.now() - startedAt);
      if (!record.ok && args.maxFailures > 0 && this.#stats.failed >= args.maxFailures) this.#stopped = true;
      this.#sink.add({ index, line: lineNumber, ...record });
    };
    if (args.background) {
      this.#client.submitBackground(args.fn, payload, options).then(
        (handle) => done({ handle, ok: true }),
        (err: unknown) => done({ handle: null, ok: false, ...failure(err) }),
      );
      return;
    }
    const job = this.#client.submit(args.fn, payload, options);
    job.result.then(
      (result) => done({ handle: job.handle ?? null, ok: true, result }),
      (err: unknown) => done({ handle: job.handle ?? null, ok: false, ...failure(err) }),
    );
  }

  #inputName(): string {
    return this.#args.input === '-' ? 'standard input' : this.#args.input;
  }
}

function failure(err: unknown): { error: string; code?: string } {
  return err instanceof GearmanError ? { error: errorText(err), code: err.code } : { error: errorText(err) };
}
