import { JobStoreError } from '../../errors.js';
import { MAX_PORT, MAX_RUNNING_CAP } from '../../limits.js';
import type { MetricsEndpoint } from '../../server/metrics/metrics-endpoint.js';
import { GearmanServer } from '../../server/server.js';
import { defineCommand } from '../args/define-command.js';
import type { OptionSpecs } from '../args/option-spec.js';
import { UsageError } from '../io.js';
import { createLogger, kLogLevelOption, logLevel } from '../logger.js';
import { kMetricsOptions, metricsListen, serveMetrics } from './server-metrics.js';
import { kNetworkOptions, networkOptions } from './server-network.js';
import { kPersistenceOptions, openStore, resultCacheOptions, storeSync } from './server-persistence.js';

const kOptions = {
  listen: { type: 'string', short: 'L', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  port: {
    type: 'integer',
    short: 'p',
    min: 0,
    max: MAX_PORT,
    default: 4730,
    help: 'TCP port (0 picks a free one)',
  },
  'job-retries': {
    type: 'integer',
    short: 'j',
    min: 0,
    max: 0xffffffff,
    help: 'fail a job after N attempts whose worker died (default 0 = no limit)',
  },
  'worker-wakeup': {
    type: 'integer',
    short: 'w',
    min: 0,
    max: 0xffffffff,
    help: 'sleeping workers to wake per new job (default 0 = all)',
  },
  exceptions: { type: 'boolean', help: 'send WORK_EXCEPTION to every client, not only those that ask' },
  'job-handle-prefix': {
    type: 'string',
    value: 'P',
    help: 'job handles are P:<n> (default H:<hostname>)',
  },
  'round-robin': { type: 'boolean', short: 'R', help: "serve a worker's functions in turn" },
  'global-priority': {
    type: 'boolean',
    help: "HIGH jobs of any of a worker's functions first (gearmand 2.0 order)",
  },
  'max-frame-size': {
    type: 'size',
    help: 'largest packet data accepted, in bytes (default 67108864)',
  },
  'max-connections': {
    type: 'integer',
    min: 1,
    max: 1_000_000,
    help: 'open connections at most (default 10000)',
  },
  'max-jobs': {
    type: 'integer',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    help: 'jobs held at most, then QUEUE_ERROR (default 1000000; 0 = no limit)',
  },
  'max-running': {
    type: 'list',
    value: 'FN=N',
    help: "run at most N jobs of function FN at once across all workers (repeatable; gworker's own; the admin maxrunning changes it at runtime)",
  },
  ...kPersistenceOptions,
  ...kNetworkOptions,
  ...kMetricsOptions,
  'log-level': kLogLevelOption,
} as const satisfies OptionSpecs;

export const serverCommand = defineCommand({
  name: 'server',
  synopsis: '[options]',
  description: `Runs a Gearman job server that clients, workers and admin tools (gearadmin, gworker
admin) use as they use gearmand 1.1.20: the binary protocol and the text admin protocol
on one port. Jobs live in memory; with --store, background jobs are also kept in a
SQLite file and survive a crash or a restart.

signals:
  SIGTERM, SIGINT   stop now (a second SIGINT during a graceful stop forces it)
  SIGUSR1           graceful: stop accepting, hand out no more jobs, let running ones finish
  SIGHUP            ignored (gearmand reopens its log file; these logs go to stderr)`,
  options: kOptions,
  footer: `HTTP gateway (--http-port): POST /FUNCTION with the workload as the body (PUT too; GET
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
--store; 2 on a usage error.`,
  async run({ values }, io) {
    const level = logLevel(values['log-level'], io);
    const prefix = values['job-handle-prefix'];
    if (prefix !== undefined && /[\0\s]/.test(prefix)) {
      throw new UsageError('--job-handle-prefix: expected a word without spaces');
    }
    const maxFrameSize = values['max-frame-size'];
    if (maxFrameSize !== undefined && (maxFrameSize < 1024 || maxFrameSize > 0xffffffff)) {
      throw new UsageError(`--max-frame-size: expected a size from 1KiB to 4GiB, got ${maxFrameSize}`);
    }
    const host = values.listen;
    const maxRunning = maxRunningOptions(values['max-running']);
    const options = {
      port: values.port,
      jobRetries: values['job-retries'],
      workerWakeup: values['worker-wakeup'],
      maxFrameSize,
      maxConnections: values['max-connections'],
      maxJobs: values['max-jobs'],
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
      ...(maxRunning === undefined ? {} : { maxRunning }),
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
  },
});

/** `--max-running FN=N`, repeated: the caps by function, or undefined when none is given. Throws UsageError. */
function maxRunningOptions(specs: readonly string[] | undefined): Record<string, number> | undefined {
  if (specs === undefined || specs.length === 0) return undefined;
  const caps: Record<string, number> = {};
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    const count = spec.slice(eq + 1);
    if (eq <= 0 || !/^[0-9]{1,10}$/.test(count) || Number(count) > MAX_RUNNING_CAP) {
      throw new UsageError(
        `--max-running takes FN=N, N from 0 (no cap) to ${MAX_RUNNING_CAP}, got "${spec}"`,
      );
    }
    caps[spec.slice(0, eq)] = Number(count);
  }
  return caps;
}
