import type { Client } from '../../client/client.js';
import type { Priority } from '../../client/submit-options.js';
import type { TlsOptions } from '../../net/address.js';
import { defineCommand } from '../args/define-command.js';
import { timeValue, waitValue } from '../args/time-value.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { needsFinalNewline, watchForNoWorker } from '../no-worker-hint.js';
import { kJobOptions, oneLine, openClient, submitServers, write } from '../submit-common.js';
import { clientTls } from '../tls-files.js';
import { batchFlagsGiven, kBatchNote, kBatchOptions, runBatch } from './submit-batch.js';

interface SubmitArgs {
  readonly fn: string;
  readonly servers: string[];
  readonly background: boolean;
  readonly priority: Priority | undefined;
  readonly unique: string | undefined;
  readonly timeoutMs: number | undefined;
  /** Run no earlier than this (SUBMIT_JOB_EPOCH; background only). */
  readonly epoch: Date | undefined;
  readonly status: boolean;
  readonly payload: string | undefined;
  readonly tls: TlsOptions | undefined;
}

async function readAll(stream: CliIo['stdin']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

async function runJob(client: Client, args: SubmitArgs, payload: string | Buffer, io: CliIo): Promise<void> {
  const options = {
    ...(args.unique === undefined ? {} : { unique: args.unique }),
    ...(args.priority === undefined ? {} : { priority: args.priority }),
    ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
  };
  if (args.background) {
    const handle = await client.submitBackground(
      args.fn,
      payload,
      args.epoch === undefined ? options : { ...options, epoch: args.epoch },
    );
    await write(io.stdout, `${handle}\n`);
    return;
  }
  const job = client.submit(args.fn, payload, options);
  const stopHint = watchForNoWorker(job, args.tls, io.stderr);
  let lastByte: number | undefined;
  try {
    for await (const update of job) {
      if (update.type === 'data') {
        if (update.data.length > 0) lastByte = update.data[update.data.length - 1];
        await write(io.stdout, update.data);
      } else if (update.type === 'warning') {
        const text = update.data.toString('utf8');
        io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
      } else if (update.type === 'status' && args.status) {
        io.stderr.write(`status ${update.numerator}/${update.denominator}\n`);
      }
    }
    const result = await job.result;
    if (result.length > 0) lastByte = result[result.length - 1];
    await write(io.stdout, result);
    if (needsFinalNewline(io.stdout.isTTY, lastByte)) await write(io.stdout, '\n');
  } finally {
    stopHint();
  }
}

/**
 * When a job sent with --at or --in may run. Only a background job can wait at the
 * server (SUBMIT_JOB_EPOCH has no foreground form), epoch jobs have normal priority, and
 * a batch submits its lines now.
 */
function delayedUntil(
  at: Date | undefined,
  wait: number | undefined,
  background: boolean,
  priority: string | undefined,
  batch: string | undefined,
): Date | undefined {
  if (at === undefined && wait === undefined) return undefined;
  const flag = at === undefined ? '--in' : '--at';
  if (at !== undefined && wait !== undefined) throw new UsageError('give --at or --in, not both');
  if (!background) {
    throw new UsageError(
      `${flag} needs --background: a job for later waits at the server, with no client attached`,
    );
  }
  if (priority !== undefined && priority !== 'normal') {
    throw new UsageError(
      `${flag} jobs have normal priority (SUBMIT_JOB_EPOCH has no other); leave out --priority`,
    );
  }
  if (batch !== undefined) throw new UsageError(`${flag} applies to one job, not to --batch`);
  return at ?? new Date(Date.now() + (wait as number));
}

/**
 * `gworker submit`: submits one job, streams its output, exits non-zero on any failure;
 * with --batch, one job per line of a file (submit-batch.ts).
 */
export const submitCommand = defineCommand({
  name: 'submit',
  synopsis: ['-f FUNCTION [options] [PAYLOAD]', '-f FUNCTION --batch FILE [options]'],
  description: `Submits one job and waits for it, like 'gearman -f'. The payload is the argument, or all
of standard input when there is none (empty is fine: < /dev/null). Data chunks the worker
sends (WORK_DATA) go to standard output as they arrive, then the result (on a terminal,
ended with a newline); warnings (WORK_WARNING) go to standard error. A background job
prints its handle. When no worker has registered the function after a few seconds,
standard error says so and the job keeps waiting. With --batch, each line of a file is
a job, many in flight at once (see batch mode below).`,
  options: {
    ...kJobOptions,
    unique: {
      type: 'string',
      short: 'u',
      value: 'ID',
      help: "the unique id (jobs with the same one are coalesced; '-' means the payload itself)",
    },
    status: { type: 'boolean', help: 'print status updates (WORK_STATUS) to standard error' },
    at: {
      type: 'string',
      value: 'TIME',
      parse: timeValue,
      help: 'run no earlier than TIME: ISO 8601 (2026-12-24T18:00:00Z) or seconds since the epoch; with --background (SUBMIT_JOB_EPOCH)',
    },
    in: {
      type: 'string',
      value: 'DURATION',
      parse: waitValue,
      help: 'run no earlier than DURATION from now (90s, 15m, 2h); with --background (SUBMIT_JOB_EPOCH)',
    },
    ...kBatchOptions,
  },
  arguments: { min: 0, max: 1, shape: 'at most one PAYLOAD (quote it if it has spaces)' },
  footer: `Exit status: 0 on success; 1 when the job fails or raises an exception, the server cannot
be reached or the timeout passes (one line on standard error); 2 on a usage error.

${kBatchNote}`,
  async run({ values, positionals, given }, io) {
    if (values.function === undefined) throw new UsageError('--function is required');
    const epoch = delayedUntil(values.at, values.in, values.background, values.priority, values.batch);
    if (values.batch !== undefined) {
      if (positionals.length > 0)
        throw new UsageError('--batch reads the payloads from its file: give no PAYLOAD');
      if (values.unique !== undefined) {
        throw new UsageError('--unique would join every line into one job; use --unique-from-line');
      }
      if (values.status) throw new UsageError('--status is not shown with --batch');
    } else {
      const batchOnly = batchFlagsGiven(given);
      if (batchOnly.length > 0) throw new UsageError(`--${batchOnly[0]} needs --batch`);
    }
    const args: SubmitArgs = {
      fn: values.function,
      servers: submitServers(values.server, io.env),
      background: values.background,
      priority: values.priority as Priority | undefined,
      unique: values.unique,
      timeoutMs: values.timeout,
      epoch,
      status: values.status,
      payload: positionals[0],
      tls: clientTls(values),
    };
    if (values.batch !== undefined) return runBatch(args, values, io);
    const payload = args.payload ?? (await readAll(io.stdin));
    const client: Client = openClient(args.servers, args.tls);
    try {
      await runJob(client, args, payload, io);
      return 0;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      io.stderr.write(`gworker submit: ${oneLine(message)}\n`);
      return 1;
    } finally {
      await client.close();
    }
  },
});
