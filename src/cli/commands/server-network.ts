import { MAX_PORT } from '../../limits.js';
import type { GearmanServerOptions } from '../../server/options.js';
import type { OptionSpecs } from '../args/option-spec.js';
import { UsageError } from '../io.js';
import { kServerTlsOptions, serverTls } from '../tls-files.js';

/** `gworker server`'s options for the HTTP gateway and TLS. */
export const kNetworkOptions = {
  'http-port': {
    type: 'integer',
    min: 0,
    max: MAX_PORT,
    help: 'serve the HTTP gateway on this port (POST /FUNCTION; 0 picks one)',
  },
  'http-host': {
    type: 'string',
    value: 'HOST',
    help: 'address of the HTTP gateway (default: the --listen address)',
  },
  'http-max-body': {
    type: 'size',
    help: 'largest request body, then 413 (default: --max-frame-size)',
  },
  'http-allow-remote': {
    type: 'boolean',
    help: 'serve HTTP clients that are not on loopback (the gateway has no authentication: put it behind something that has)',
  },
  'max-unsent-output': {
    type: 'size',
    help: 'replies written and not yet read, over all connections, e.g. 512MiB (default 512MiB); past it the connections holding the most are dropped',
  },
  ...kServerTlsOptions,
  'tls-handshake-timeout': {
    type: 'duration',
    value: 'T',
    help: 'close a connection whose TLS handshake is not done within T (default 10s); handshakes count against --max-connections',
  },
} as const satisfies OptionSpecs;

export interface NetworkValues {
  readonly 'http-port'?: number | undefined;
  readonly 'http-host'?: string | undefined;
  readonly 'http-max-body'?: number | undefined;
  readonly 'http-allow-remote'?: boolean | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-ca'?: string | undefined;
  readonly 'max-unsent-output'?: number | undefined;
  readonly 'tls-handshake-timeout'?: number | undefined;
}

/** The server options these flags ask for; a bad value or an unreadable file is a usage error. */
export function networkOptions(values: NetworkValues): Partial<GearmanServerOptions> {
  const port = values['http-port'];
  const host = values['http-host'];
  const maxBody = values['http-max-body'];
  if (port === undefined && (host !== undefined || maxBody !== undefined || values['http-allow-remote'])) {
    throw new UsageError('--http-host, --http-max-body and --http-allow-remote need --http-port');
  }
  let tls = serverTls(values);
  const handshakeTimeoutMs = values['tls-handshake-timeout'];
  if (handshakeTimeoutMs !== undefined) {
    if (tls === undefined) throw new UsageError('--tls-handshake-timeout needs --tls-cert and --tls-key');
    tls = { ...tls, handshakeTimeoutMs };
  }
  const maxUnsentOutput = values['max-unsent-output'];
  if (maxUnsentOutput !== undefined && maxUnsentOutput < 1024 * 1024) {
    throw new UsageError(`--max-unsent-output must be 1MiB or more, got ${maxUnsentOutput} bytes`);
  }
  return {
    ...(maxUnsentOutput === undefined ? {} : { maxUnsentOutput }),
    ...(port === undefined ? {} : { httpPort: port }),
    ...(host === undefined ? {} : { httpHost: host }),
    ...(maxBody === undefined ? {} : { httpMaxBodySize: maxBody }),
    ...(values['http-allow-remote'] ? { httpAllowRemote: true } : {}),
    ...(tls === undefined ? {} : { tls }),
  };
}
