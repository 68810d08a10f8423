import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Priority } from '../../client/submit-options.js';
import type { TlsOptions } from '../../net/address.js';
import type { OptionSpecs, OptionValues } from '../args/option-spec.js';
import { type BatchInput, BatchRun, type BatchRunOptions } from '../batch/batch-run.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { openClient } from '../submit-common.js';

const kBatch = 'batch mode (--batch FILE)';

/** The options only `gworker submit --batch` takes, listed under their own heading in --help. */
export const kBatchOptions = {
  batch: {
    type: 'string',
    value: 'FILE',
    group: kBatch,
    help: "submit each line of FILE ('-': standard input) as a job of --function, reading as it goes (files of any size)",
  },
  window: {
    type: 'integer',
    min: 1,
    max: 100_000,
    default: 64,
    group: kBatch,
    help: 'jobs in flight at most; reading waits while it is full',
  },
  'keep-empty': {
    type: 'boolean',
    group: kBatch,
    help: 'submit blank lines too (as empty payloads; skipped by default)',
  },
  'unique-from-line': {
    type: 'boolean',
    group: kBatch,
    help: "give each job a unique made from its line's hash (SHA-256), so a rerun, or a repeated line, joins the job already there",
  },
  results: {
    type: 'string',
    value: 'FILE',
    group: kBatch,
    help: `write one JSON line per job ('-': standard output):
{"line":N,"handle":H,"ok":true,"result":"..."} or
{"line":N,"handle":H,"ok":false,"error":"...","code":"..."}
(data chunks the worker streams come before the result; a result that is not UTF-8 is "resultBase64")`,
  },
  ordered: { type: 'boolean', group: kBatch, help: 'write results in input order (default: as jobs finish)' },
  output: {
    type: 'string',
    short: 'o',
    value: 'FILE',
    group: kBatch,
    help: 'with --background: where the handles go, one per line in input order, an empty line for a refused job (default: standard output)',
  },
  'max-failures': {
    type: 'integer',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    group: kBatch,
    help: 'stop submitting after N failures (jobs in flight still finish)',
  },
  'progress-interval': {
    type: 'duration',
    default: 10_000,
    group: kBatch,
    help: 'time between progress lines when stderr is not a terminal (a terminal gets a bar redrawn 10 times a second)',
  },
  quiet: {
    type: 'boolean',
    short: 'q',
    group: kBatch,
    help: 'no progress display (the summary is still printed)',
  },
} as const satisfies OptionSpecs;

/** What --help says of batch mode after the options. */
export const kBatchNote = `In batch mode a summary goes to standard error at the end: jobs done, failed, jobs/s,
p50 and p99 latency (to the result; to JOB_CREATED with --background). Exit status 0
when every job succeeded, 1 when any failed, could not be submitted, or the input could
not be read.`;

export type BatchValues = OptionValues<typeof kBatchOptions>;

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

/** The batch-only options on a command line (they make no sense without --batch). */
export function batchFlagsGiven(given: ReadonlySet<string>): string[] {
  return Object.keys(kBatchOptions).filter((name) => name !== 'batch' && given.has(name));
}

function checkArgs(job: BatchJobArgs, values: BatchValues): BatchArgs {
  if (values.output !== undefined && !job.background) throw new UsageError('--output goes with --background');
  if (values.output === '-' && values.results === '-') {
    throw new UsageError('--output and --results cannot both be standard output');
  }
  return {
    ...job,
    input: values.batch as string,
    window: values.window,
    keepEmpty: values['keep-empty'],
    uniqueFromLine: values['unique-from-line'],
    output: values.output,
    results: values.results,
    ordered: values.ordered,
    progressIntervalMs: values['progress-interval'],
    quiet: values.quiet,
    maxFailures: values['max-failures'] ?? 0,
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
