import type { Logger } from '../../log.js';
import { MetricsEndpoint } from '../../server/metrics/metrics-endpoint.js';
import { ServerMetrics } from '../../server/metrics/server-metrics.js';
import type { GearmanServer } from '../../server/server.js';
import { UsageError } from '../io.js';

/** `gworker server` options for the Prometheus endpoint (parseArgs config). */
export const kMetricsOptions = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
} as const;

/** Their lines in `gworker server --help`. */
export const kMetricsUsage = `      --metrics-port N       serve Prometheus metrics at http://HOST:N/metrics (0 picks a port)
      --metrics-host HOST    address of the metrics endpoint (default 127.0.0.1: this machine only)
`;

export interface MetricsValues {
  readonly 'metrics-port'?: string | undefined;
  readonly 'metrics-host'?: string | undefined;
}

export interface MetricsListen {
  readonly port: number;
  readonly host: string;
}

/** Where the flags ask the metrics to be served, or undefined for none; bad values are usage errors. */
export function metricsListen(values: MetricsValues): MetricsListen | undefined {
  const port = values['metrics-port'];
  const host = values['metrics-host'];
  if (port === undefined) {
    if (host !== undefined) throw new UsageError('--metrics-host needs --metrics-port');
    return undefined;
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`--metrics-port must be an integer from 0 to 65535, got "${port}"`);
  }
  if (host === '') throw new UsageError('--metrics-host needs an address');
  return { port: Number(port), host: host ?? '127.0.0.1' };
}

/** Starts the metrics endpoint of a listening server; rejects when its address cannot be bound. */
export async function serveMetrics(
  server: GearmanServer,
  listen: MetricsListen,
  logger: Logger,
): Promise<MetricsEndpoint> {
  const endpoint = new MetricsEndpoint(new ServerMetrics(server), { ...listen, logger });
  await endpoint.listen();
  return endpoint;
}
