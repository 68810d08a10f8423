import { AdminClient } from '../../client/admin-client.js';
import type { MaxQueueSizes } from '../../protocol/admin.js';
import { defineCommand } from '../args/define-command.js';
import { nearest } from '../args/suggest.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { formatTable } from '../table.js';
import { clientTls, kClientTlsOptions } from '../tls-files.js';

/** What a command prints: a table for people, a value for --json. */
interface Output {
  readonly text: string;
  readonly json: unknown;
}

type Runner = (admin: AdminClient, args: readonly string[]) => Promise<Output>;

const yesNo = (flag: boolean): string => (flag ? 'yes' : 'no');

function needArgs(name: string, args: readonly string[], counts: readonly number[], shape: string): void {
  if (!counts.includes(args.length)) throw new UsageError(`${name} takes ${shape}`);
}

function queueSize(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0x7fffffff) {
    throw new UsageError(`queue size "${text}" must be an integer from 0 (no limit) to 2147483647`);
  }
  return Number(text);
}

const done = (): Output => ({ text: 'OK\n', json: { ok: true } });

const runners: Record<string, Runner> = {
  async status(admin) {
    const rows = await admin.status();
    return {
      json: rows,
      text: formatTable(
        [
          { header: 'FUNCTION' },
          { header: 'TOTAL', align: 'right' },
          { header: 'RUNNING', align: 'right' },
          { header: 'AVAILABLE_WORKERS', align: 'right' },
        ],
        rows.map((r) => [r.function, String(r.total), String(r.running), String(r.availableWorkers)]),
      ),
    };
  },
  async 'priority-status'(admin) {
    const rows = await admin.priorityStatus();
    return {
      json: rows,
      text: formatTable(
        [
          { header: 'FUNCTION' },
          { header: 'HIGH', align: 'right' },
          { header: 'NORMAL', align: 'right' },
          { header: 'LOW', align: 'right' },
          { header: 'WORKERS', align: 'right' },
        ],
        rows.map((r) => [r.function, String(r.high), String(r.normal), String(r.low), String(r.workers)]),
      ),
    };
  },
  async workers(admin) {
    const rows = await admin.workers();
    return {
      json: rows,
      text: formatTable(
        [
          { header: 'FD', align: 'right' },
          { header: 'IP' },
          { header: 'CLIENT_ID' },
          { header: 'FUNCTIONS' },
        ],
        rows.map((r) => [String(r.fd), r.ip, r.clientId, r.functions.join(' ')]),
      ),
    };
  },
  async version(admin) {
    const version = await admin.version();
    return { text: `${version}\n`, json: { version } };
  },
  async verbose(admin) {
    const level = await admin.verbose();
    return { text: `${level}\n`, json: { verbose: level } };
  },
  async getpid(admin) {
    const pid = await admin.getPid();
    return { text: `${pid}\n`, json: { pid } };
  },
  async 'show-jobs'(admin) {
    const rows = await admin.showJobs();
    return {
      json: rows,
      text: formatTable(
        [
          { header: 'HANDLE' },
          { header: 'RETRIES', align: 'right' },
          { header: 'IGNORE_JOB' },
          { header: 'QUEUED' },
        ],
        rows.map((r) => [r.handle, String(r.retries), yesNo(r.ignoreJob), yesNo(r.queued)]),
      ),
    };
  },
  async 'show-unique-jobs'(admin) {
    const rows = await admin.showUniqueJobs();
    return {
      json: rows,
      text: formatTable(
        [{ header: 'UNIQUE' }],
        rows.map((unique) => [unique]),
      ),
    };
  },
  async 'cancel-job'(admin, args) {
    needArgs('cancel-job', args, [1], 'one job handle');
    await admin.cancelJob(args[0] as string);
    return done();
  },
  async 'create-function'(admin, args) {
    needArgs('create-function', args, [1], 'one function name');
    await admin.createFunction(args[0] as string);
    return done();
  },
  async 'drop-function'(admin, args) {
    needArgs('drop-function', args, [1], 'one function name');
    await admin.dropFunction(args[0] as string);
    return done();
  },
  async maxqueue(admin, args) {
    needArgs('maxqueue', args, [2, 4], 'a function name and one size, or three (high normal low)');
    const [fn, ...sizes] = args as [string, ...string[]];
    const values = sizes.map(queueSize);
    const spec: MaxQueueSizes =
      values.length === 1
        ? (values[0] as number)
        : { high: values[0] as number, normal: values[1] as number, low: values[2] as number };
    await admin.maxQueue(fn, spec);
    return done();
  },
  async maxrunning(admin, args) {
    needArgs('maxrunning', args, [1, 2], 'a function name and a cap (none or 0: no cap)');
    const [fn, cap = '0'] = args as [string, string?];
    if (!/^\d+$/.test(cap) || Number(cap) > 0xffffffff) {
      throw new UsageError(`cap "${cap}" must be an integer from 0 (no cap) to 4294967295`);
    }
    await admin.maxRunning(fn, Number(cap));
    return done();
  },
  async 'show-maxrunning'(admin) {
    const rows = (await admin.raw('show maxrunning')).map((line) => {
      const [fn = '', cap, running, waiting] = line.split('\t');
      return { function: fn, maxRunning: Number(cap), running: Number(running), waiting: Number(waiting) };
    });
    return {
      json: rows,
      text: formatTable(
        [
          { header: 'FUNCTION' },
          { header: 'MAX_RUNNING', align: 'right' },
          { header: 'RUNNING', align: 'right' },
          { header: 'WAITING', align: 'right' },
        ],
        rows.map((r) => [r.function, String(r.maxRunning), String(r.running), String(r.waiting)]),
      ),
    };
  },
  async raw(admin, args) {
    if (args.length === 0) throw new UsageError('raw takes a command line');
    const lines = await admin.raw(args.join(' '));
    return { text: lines.map((line) => `${line}\n`).join(''), json: { lines } };
  },
};
runners['server-version'] = runners.version as Runner;

/** Arguments are checked before connecting, so a typo never reaches the server. */
function checkArguments(name: string, args: readonly string[]): void {
  const takesNone = [
    'status',
    'priority-status',
    'workers',
    'version',
    'server-version',
    'verbose',
    'getpid',
  ];
  if ((takesNone.includes(name) || name.startsWith('show-')) && args.length > 0) {
    throw new UsageError(`${name} takes no arguments`);
  }
  for (const arg of name === 'raw' ? [] : args) {
    if (/[\s\0]/.test(arg)) throw new UsageError(`"${arg}" must not contain spaces or control characters`);
  }
}

/** `gworker admin`: the text admin protocol from the command line. */
export const adminCommand = defineCommand({
  name: 'admin',
  synopsis: '[--server HOST:PORT] [--json] [--timeout DURATION] COMMAND [ARGS]',
  description: `Queries or changes one job server (gearmand, or gworker's own) over the text admin protocol.

commands:
  status                 jobs held (queued + running), running jobs and workers, per function
  priority-status        queued jobs per priority (high, normal, low) and workers, per function
  workers                every connection: fd, address, client id, registered functions
  version                the server's version (alias: server-version)
  verbose                the server's log level
  getpid                 the server's process id
  show-jobs              every job: handle, retries, ignored flag, persisted flag
  show-unique-jobs       the unique id of every job
  cancel-job HANDLE      mark a queued job to be dropped
  create-function FUNC   make the server know a function
  drop-function FUNC     forget a function that has no workers and no running jobs
  maxqueue FUNC N        limit the jobs a function may hold, every priority (0 = no limit)
  maxqueue FUNC H N L    the same, per priority: high, normal, low
  maxrunning FUNC [N]    run at most N jobs of FUNC at once (none or 0: no cap; gworker's server only)
  show-maxrunning        every maxrunning cap: function, cap, running and waiting jobs
  raw LINE...            send one command line as is and print the reply lines`,
  options: {
    server: {
      type: 'string',
      short: 's',
      value: 'HOST:PORT',
      default: '127.0.0.1:4730',
      help: 'the job server',
    },
    json: { type: 'boolean', help: 'print JSON instead of a table' },
    timeout: { type: 'duration', help: 'fail a command whose reply takes longer (default 10s)' },
    ...kClientTlsOptions,
  },
  arguments: { min: 1, max: Number.POSITIVE_INFINITY, shape: 'a command (see --help)' },
  footer: `Exit status: 0 on success; 1 when the server answers ERR, cannot be reached or times
out (one line on stderr); 2 on a usage error.`,
  async run({ values, positionals }, io: CliIo) {
    const [name, ...args] = positionals as [string, ...string[]];
    const runner = Object.hasOwn(runners, name) ? runners[name] : undefined;
    if (runner === undefined) {
      const guess = nearest(name, Object.keys(runners));
      throw new UsageError(
        `unknown admin command "${name}"${guess === undefined ? '' : ` (did you mean ${guess}?)`}`,
      );
    }
    checkArguments(name, args);
    const timeout = values.timeout;
    const tls = clientTls(values);
    let admin: AdminClient;
    try {
      admin = new AdminClient({
        server: values.server,
        ...(tls === undefined ? {} : { tls }),
        ...(timeout === undefined ? {} : { commandTimeoutMs: timeout, connectTimeoutMs: timeout }),
      });
    } catch (err) {
      throw err instanceof TypeError || err instanceof RangeError ? new UsageError(err.message) : err;
    }
    try {
      const output = await runner(admin, args);
      io.stdout.write(values.json ? `${JSON.stringify(output.json, null, 2)}\n` : output.text);
      return 0;
    } finally {
      await admin.close();
    }
  },
});
