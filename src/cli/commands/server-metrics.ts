import { MAX_PORT } from '../../limits.js';
import type { Logger } from '../../log.js';
import { MetricsEndpoint } from '../../server/metrics/metrics-endpoint.js';
import { ServerMetrics } from '../../server/metrics/server-metrics.js';
import type { GearmanServer } from '../../server/server.js';
import type { OptionSpecs } from '../args/option-spec.js';
import { UsageError } from '../io.js';

/** `gworker server`'s options for the Prometheus endpoint. */
export const kMetricsOptions = {
  'metrics-port': {
    type: 'integer',
    min: 0,
    max: MAX_PORT,
    help: 'serve Prometheus metrics at http://HOST:N/metrics (0 picks a port)',
  },
  'metrics-host': {
    type: 'string',
    value: 'HOST',
    help: 'address of the metrics endpoint (default 127.0.0.1: this machine only)',
  },
} as const satisfies OptionSpecs;

export interface MetricsValues {
  readonly 'metrics-port'?: number | undefined;
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
  return { port, host: host ?? '127.0.0.1' };
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
