import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Priority } from '../../client/submit-options.js';
import type { TlsOptions } from '../../net/address.js';
import { type BatchInput, BatchRun, type BatchRunOptions } from '../batch/batch-run.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { openClient } from '../submit-common.js';

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
                            (data chunks the worker streams come before the result; a
                            result that is not UTF-8 is "resultBase64")
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

interface BatchArgs extends BatchJobArgs, BatchRunOptions {
  readonly input: string;
  readonly output: string | undefined;
  readonly results: string | undefined;
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

/** Opens the input now, so a missing file fails before anything is submitted. */
function openInput(path: string, io: CliIo): BatchInput {
  if (path === '-') return { stream: io.stdin, size: null, name: 'standard input' };
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new Error(`${path} is a directory`);
    return {
      stream: createReadStream(path, { fd, highWaterMark: 64 * 1024 }),
      size: stat.isFile() ? stat.size : null,
      name: path,
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
      return await new BatchRun(args, client, input, {
        results: results?.stream ?? null,
        handles: handles?.stream ?? null,
        stderr: io.stderr,
      }).run();
    } finally {
      await client.close();
    }
  } finally {
    // A file read to its end is closed already; one left early (an output failed to open) is not.
    if (input.stream !== io.stdin) input.stream.destroy();
    for (const output of outputs) await output.close();
  }
}
