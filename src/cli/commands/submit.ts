import { parseArgs } from 'node:util';
import type { Client } from '../../client/client.js';
import type { Priority } from '../../client/submit-options.js';
import type { TlsOptions } from '../../net/address.js';
import type { CliCommand, CliIo } from '../io.js';
import { UsageError } from '../io.js';
import {
  functionName,
  kDefaultServer,
  kJobOptions,
  oneLine,
  openClient,
  parsePriority,
  parseTimeoutMs,
  write,
} from '../submit-common.js';
import { clientTls, clientTlsUsage } from '../tls-files.js';
import { kBatchOptions, kBatchUsage, runBatch, usesBatchFlags } from './submit-batch.js';

const kUsage = `usage: gworker submit -f FUNCTION [options] [PAYLOAD]
       gworker submit -f FUNCTION --batch FILE [options]

Submits one job and waits for it, like 'gearman -f'. The payload is the argument, or all
of standard input when there is none (empty is fine: < /dev/null). Data chunks the worker
sends (WORK_DATA) go to standard output as they arrive, then the result; warnings
(WORK_WARNING) go to standard error. A background job prints its handle. With --batch,
each line of a file is a job, many in flight at once (see batch mode below).

options:
  -f, --function NAME       the function to run (required)
  -s, --server HOST:PORT    a job server; repeat for several (default 127.0.0.1:4730)
  -b, --background          submit in the background and print the job handle
  -p, --priority LEVEL      high, normal or low (default normal)
  -u, --unique ID           the unique id (jobs with the same one are coalesced; '-' means
                            the payload itself)
  -t, --timeout SECONDS     give up waiting after this long
      --status              print status updates (WORK_STATUS) to standard error
${clientTlsUsage(28)}  -h, --help                print this help

Exit status: 0 on success; 1 when the job fails or raises an exception, the server cannot
be reached or the timeout passes (one line on standard error); 2 on a usage error.

${kBatchUsage}`;

interface SubmitArgs {
  readonly fn: string;
  readonly servers: string[];
  readonly background: boolean;
  readonly priority: Priority | undefined;
  readonly unique: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly status: boolean;
  readonly payload: string | undefined;
  readonly tls: TlsOptions | undefined;
}

type Values = ReturnType<typeof parseOptions>['values'];

function parse(argv: readonly string[]): { args: SubmitArgs; values: Values } | 'help' {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const fn = functionName(values.function);
  if (values.batch !== undefined) {
    if (positionals.length > 0)
      throw new UsageError('--batch reads the payloads from its file: give no PAYLOAD');
    if (values.unique !== undefined) {
      throw new UsageError('--unique would join every line into one job; use --unique-from-line');
    }
    if (values.status) throw new UsageError('--status is not shown with --batch');
  } else if (usesBatchFlags(values)) {
    throw new UsageError('--window, --results, --ordered and the other batch flags need --batch');
  }
  if (positionals.length > 1) throw new UsageError('give at most one PAYLOAD (quote it if it has spaces)');
  const args: SubmitArgs = {
    fn,
    servers: values.server ?? [kDefaultServer],
    background: values.background ?? false,
    priority: parsePriority(values.priority),
    unique: values.unique,
    timeoutMs: parseTimeoutMs(values.timeout),
    status: values.status ?? false,
    payload: positionals[0],
    tls: clientTls(values),
  };
  return { args, values };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...kJobOptions,
      unique: { type: 'string', short: 'u' },
      status: { type: 'boolean' },
      ...kBatchOptions,
    },
  });
}

async function readAll(stream: CliIo['stdin']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

async function runJob(client: Client, args: SubmitArgs, payload: string | Buffer, io: CliIo): Promise<void> {
  if (args.background) {
    const handle = await client.submitBackground(args.fn, payload, {
      ...(args.unique === undefined ? {} : { unique: args.unique }),
      ...(args.priority === undefined ? {} : { priority: args.priority }),
      ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
    });
    await write(io.stdout, `${handle}\n`);
    return;
  }
  const job = client.submit(args.fn, payload, {
    ...(args.unique === undefined ? {} : { unique: args.unique }),
    ...(args.priority === undefined ? {} : { priority: args.priority }),
    ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
  });
  for await (const update of job) {
    if (update.type === 'data') await write(io.stdout, update.data);
    else if (update.type === 'warning') {
      const text = update.data.toString('utf8');
      io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    } else if (update.type === 'status' && args.status) {
      io.stderr.write(`status ${update.numerator}/${update.denominator}\n`);
    }
  }
  await write(io.stdout, await job.result);
}

/**
 * `gworker submit`: submits one job, streams its output, exits non-zero on any failure;
 * with --batch, one job per line of a file (submit-batch.ts).
 */
export const submitCommand: CliCommand = async (argv, io) => {
  const parsed = parse(argv);
  if (parsed === 'help') {
    io.stdout.write(kUsage);
    return 0;
  }
  const { args, values } = parsed;
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
};
