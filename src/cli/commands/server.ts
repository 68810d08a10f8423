import { parseArgs } from 'node:util';
import { JobStoreError } from '../../errors.js';
import type { MetricsEndpoint } from '../../server/metrics/metrics-endpoint.js';
import { GearmanServer } from '../../server/server.js';
import type { CliCommand } from '../io.js';
import { UsageError } from '../io.js';
import { createLogger, parseLogLevel } from '../logger.js';
import { kMetricsOptions, kMetricsUsage, metricsListen, serveMetrics } from './server-metrics.js';
import { kNetworkOptions, kNetworkUsage, networkOptions } from './server-network.js';
import {
  kPersistenceOptions,
  kPersistenceUsage,
  openStore,
  resultCacheOptions,
  storeSync,
} from './server-persistence.js';

const kUsage = `usage: gworker server [options]

Runs a Gearman job server that clients, workers and admin tools (gearadmin, gworker
admin) use as they use gearmand 1.1.20: the binary protocol and the text admin protocol
on one port. Jobs live in memory; with --store, background jobs are also kept in a
SQLite file and survive a crash or a restart.

signals:
  SIGTERM, SIGINT   stop now (a second SIGINT during a graceful stop forces it)
  SIGUSR1           graceful: stop accepting, hand out no more jobs, let running ones finish
  SIGHUP            ignored (gearmand reopens its log file; these logs go to stderr)

options:
  -L, --listen HOST          address to listen on (default 127.0.0.1)
  -p, --port N               TCP port (default 4730; 0 picks a free one)
  -j, --job-retries N        fail a job after N attempts whose worker died (default 0 = no limit)
  -w, --worker-wakeup N      sleeping workers to wake per new job (default 0 = all)
      --exceptions           send WORK_EXCEPTION to every client, not only those that ask
      --job-handle-prefix P  job handles are P:<n> (default H:<hostname>)
  -R, --round-robin          serve a worker's functions in turn
      --global-priority      HIGH jobs of any of a worker's functions first (gearmand 2.0 order)
      --max-frame-size N     largest packet data accepted, in bytes (default 67108864)
      --max-connections N    open connections at most (default 10000)
      --max-jobs N           jobs held at most, then QUEUE_ERROR (default 1000000; 0 = no limit)
${kPersistenceUsage}${kNetworkUsage}${kMetricsUsage}      --log-level LEVEL      trace, debug, info (default), warn, error, fatal or silent
  -h, --help                 print this help

HTTP gateway (--http-port): POST /FUNCTION with the workload as the body (PUT too; GET
for an empty one) runs a job. Headers: X-Gearman-Unique (default '-': identical bodies
coalesce), X-Gearman-Background: true, X-Gearman-Priority: high|low, X-Gearman-Timeout: MS.
Answers: 200 with the result (streamed as it comes when the worker sends data), 202 with
the handle for a background job, 502 when the job fails, 500 with the text of an
exception, 503 when the queue is full, 504 when the timeout passes, 413 for a body over
--http-max-body. GET / answers a health check.

Metrics (--metrics-port): Prometheus text at /metrics: queued jobs by function and
priority, running jobs and workers by function, connections, jobs submitted, rejected and
ended (complete, fail, exception) by function, stored jobs (with --store), result cache
hits and misses, and the process's own (CPU, memory, event loop).

It prints one line with the address it listens on (and one with the HTTP gateway's URL,
and one with the metrics URL), and logs to stderr.
Exit status: 0 after a stop; 1 when it cannot listen (port, gateway or metrics) or use its
--store; 2 on a usage error.
`;

function count(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

const kOptions = {
  listen: { type: 'string', short: 'L' },
  port: { type: 'string', short: 'p' },
  'job-retries': { type: 'string', short: 'j' },
  'worker-wakeup': { type: 'string', short: 'w' },
  exceptions: { type: 'boolean' },
  'job-handle-prefix': { type: 'string' },
  'round-robin': { type: 'boolean', short: 'R' },
  'global-priority': { type: 'boolean' },
  'max-frame-size': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-jobs': { type: 'string' },
  'log-level': { type: 'string' },
  ...kPersistenceOptions,
  ...kNetworkOptions,
  ...kMetricsOptions,
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: kOptions, allowPositionals: true });
  } catch (err) {
    // An unknown option, a missing value, or a value that looks like an option (-1).
    throw new UsageError((err as Error).message);
  }
}

export const serverCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parse(argv);
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  let level: ReturnType<typeof parseLogLevel>;
  try {
    level = parseLogLevel(values['log-level'] ?? io.env.GWORKER_LOG_LEVEL);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const prefix = values['job-handle-prefix'];
  if (prefix === '' || (prefix !== undefined && /[\0\s]/.test(prefix))) {
    throw new UsageError('--job-handle-prefix must be a non-empty word');
  }
  const host = values.listen;
  if (host === '') throw new UsageError('--listen needs an address');
  const options = {
    port: count('port', values.port, 0, 65535) ?? 4730,
    jobRetries: count('job-retries', values['job-retries'], 0, 0xffffffff),
    workerWakeup: count('worker-wakeup', values['worker-wakeup'], 0, 0xffffffff),
    maxFrameSize: count('max-frame-size', values['max-frame-size'], 1024, 0xffffffff),
    maxConnections: count('max-connections', values['max-connections'], 1, 1_000_000),
    maxJobs: count('max-jobs', values['max-jobs'], 0, Number.MAX_SAFE_INTEGER),
  };
  const network = networkOptions(values);
  const metrics = metricsListen(values);
  const resultCache = resultCacheOptions(values);
  const sync = storeSync(values);
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore(values, sync);
  } catch (err) {
    if (!(err instanceof JobStoreError)) throw err;
    io.stderr.write(`gworker server: ${err.message}\n`);
    return 1;
  }
  const log = createLogger(io, level, 'gworker');
  const server = new GearmanServer({
    ...(store === undefined ? {} : { store }),
    ...(resultCache === undefined ? {} : { resultCache }),
    ...(host === undefined ? {} : { host }),
    ...network,
    ...(prefix === undefined ? {} : { jobHandlePrefix: prefix }),
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    exceptions: values.exceptions === true,
    roundRobin: values['round-robin'] === true,
    globalPriority: values['global-priority'] === true,
    logger: log,
    logLevel: level,
  });
  let address: { host: string; port: number };
  try {
    address = await server.listen();
  } catch (err) {
    await server.close();
    // A store that fails its replay is reported as itself, not as a listen failure.
    const what = err instanceof JobStoreError ? '' : 'cannot listen: ';
    io.stderr.write(`gworker server: ${what}${(err as Error).message}\n`);
    return 1;
  }
  const where = address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
  io.stdout.write(`gworker server listening on ${where}\n`);
  const http = server.httpAddress;
  if (http !== null) {
    const scheme = network.tls === undefined ? 'http' : 'https';
    const at = http.host.includes(':') ? `[${http.host}]:${http.port}` : `${http.host}:${http.port}`;
    io.stdout.write(`gworker server HTTP gateway on ${scheme}://${at}/\n`);
  }
  let endpoint: MetricsEndpoint | null = null;
  if (metrics !== undefined) {
    try {
      endpoint = await serveMetrics(server, metrics, log);
      io.stdout.write(`gworker server metrics on ${endpoint.url}\n`);
    } catch (err) {
      await server.close();
      io.stderr.write(`gworker server: cannot serve metrics: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const stop = (graceful: boolean, signal: NodeJS.Signals) => () => {
    log.info({ signal }, graceful ? 'graceful shutdown requested' : 'shutdown requested');
    void server.close({ graceful });
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGTERM', stop(false, 'SIGTERM')],
    ['SIGINT', stop(false, 'SIGINT')],
    ['SIGUSR1', stop(true, 'SIGUSR1')],
    // gearmand reopens its log file on SIGHUP; logs go to stderr here, so it only must not kill us.
    ['SIGHUP', () => log.info({ signal: 'SIGHUP' }, 'SIGHUP ignored: logs go to stderr')],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    await server.closed;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    await endpoint?.close();
  }
  return 0;
};
