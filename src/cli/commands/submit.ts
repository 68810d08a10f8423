import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Client } from '../../client/client.js';
import type { Priority } from '../../client/submit-options.js';
import { parseServerAddress, type TlsOptions } from '../../net/address.js';
import type { CliCommand, CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { clientTls, clientTlsUsage, kClientTlsOptions } from '../tls-files.js';

const kUsage = `usage: gworker submit -f FUNCTION [options] [PAYLOAD]

Submits one job and waits for it, like 'gearman -f'. The payload is the argument, or all
of standard input when there is none (empty is fine: < /dev/null). Data chunks the worker
sends (WORK_DATA) go to standard output as they arrive, then the result; warnings
(WORK_WARNING) go to standard error. A background job prints its handle.

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
`;

const kPriorities: readonly string[] = ['high', 'normal', 'low'];

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

function parse(argv: readonly string[]): SubmitArgs | 'help' {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const fn = values.function;
  if (fn === undefined || fn === '') throw new UsageError('--function is required');
  if (positionals.length > 1) throw new UsageError('give at most one PAYLOAD (quote it if it has spaces)');
  const priority = values.priority;
  if (priority !== undefined && !kPriorities.includes(priority)) {
    throw new UsageError(`--priority must be high, normal or low, not "${priority}"`);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!(Number.isFinite(seconds) && seconds > 0))
      throw new UsageError('--timeout must be a positive number of seconds');
    timeoutMs = seconds * 1000;
  }
  return {
    fn,
    servers: values.server ?? ['127.0.0.1:4730'],
    background: values.background ?? false,
    priority: priority as Priority | undefined,
    unique: values.unique,
    timeoutMs,
    status: values.status ?? false,
    payload: positionals[0],
    tls: clientTls(values),
  };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      function: { type: 'string', short: 'f' },
      server: { type: 'string', short: 's', multiple: true },
      background: { type: 'boolean', short: 'b' },
      priority: { type: 'string', short: 'p' },
      unique: { type: 'string', short: 'u' },
      timeout: { type: 'string', short: 't' },
      status: { type: 'boolean' },
      ...kClientTlsOptions,
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function readAll(stream: CliIo['stdin']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

async function write(stream: CliIo['stdout'], data: Buffer | string): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

/** One line, whatever the worker put in an exception payload. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
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

/** `gworker submit`: submits one job, streams its output, exits non-zero on any failure. */
export const submitCommand: CliCommand = async (argv, io) => {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout.write(kUsage);
    return 0;
  }
  const payload = args.payload ?? (await readAll(io.stdin));
  let client: Client;
  try {
    // A one-shot command: a server that is down is failed over at once, never waited for.
    const tls = args.tls;
    const servers =
      tls === undefined ? args.servers : args.servers.map((s) => ({ ...parseServerAddress(s), tls }));
    client = new Client({ servers, reconnect: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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
