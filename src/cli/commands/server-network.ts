import type { GearmanServerOptions } from '../../server/options.js';
import { UsageError } from '../io.js';
import { kServerTlsOptions, kServerTlsUsage, serverTls } from '../tls-files.js';
import { duration, size } from './server-persistence.js';

/** `gworker server` options for the HTTP gateway and TLS (parseArgs config). */
export const kNetworkOptions = {
  'http-port': { type: 'string' },
  'http-host': { type: 'string' },
  'http-max-body': { type: 'string' },
  'http-allow-remote': { type: 'boolean' },
  'max-unsent-output': { type: 'string' },
  ...kServerTlsOptions,
  'tls-handshake-timeout': { type: 'string' },
} as const;

/** Their lines in `gworker server --help`. */
export const kNetworkUsage = `      --http-port N          serve the HTTP gateway on this port (POST /FUNCTION; 0 picks one)
      --http-host HOST       address of the HTTP gateway (default: the --listen address)
      --http-max-body N      largest request body in bytes, then 413 (default: --max-frame-size)
      --http-allow-remote    serve HTTP clients that are not on loopback (the gateway has no
                             authentication: put it behind something that has)
      --max-unsent-output N  replies written and not yet read, over all connections, e.g. 512MiB
                             (default 512MiB); past it the connections holding the most are dropped
${kServerTlsUsage}      --tls-handshake-timeout T
                             close a connection whose TLS handshake is not done within T
                             (default 10s); handshakes count against --max-connections
`;

export interface NetworkValues {
  readonly 'http-port'?: string | undefined;
  readonly 'http-host'?: string | undefined;
  readonly 'http-max-body'?: string | undefined;
  readonly 'http-allow-remote'?: boolean | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-ca'?: string | undefined;
  readonly 'max-unsent-output'?: string | undefined;
  readonly 'tls-handshake-timeout'?: string | undefined;
}

function integer(flag: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    throw new UsageError(`--${flag} must be an integer from 0 to ${max}, got "${text}"`);
  }
  return Number(text);
}

/** The server options these flags ask for; a bad value or an unreadable file is a usage error. */
export function networkOptions(values: NetworkValues): Partial<GearmanServerOptions> {
  const port = values['http-port'];
  const host = values['http-host'];
  const maxBody = values['http-max-body'];
  if (port === undefined && (host !== undefined || maxBody !== undefined || values['http-allow-remote'])) {
    throw new UsageError('--http-host, --http-max-body and --http-allow-remote need --http-port');
  }
  if (host === '') throw new UsageError('--http-host needs an address');
  let tls = serverTls(values);
  const handshake = values['tls-handshake-timeout'];
  if (handshake !== undefined) {
    if (tls === undefined) throw new UsageError('--tls-handshake-timeout needs --tls-cert and --tls-key');
    const ms = duration('tls-handshake-timeout', handshake);
    if (ms < 1) throw new UsageError('--tls-handshake-timeout must be more than 0');
    tls = { ...tls, handshakeTimeoutMs: ms };
  }
  const unsent = values['max-unsent-output'];
  const maxUnsentOutput = unsent === undefined ? undefined : size('max-unsent-output', unsent);
  if (maxUnsentOutput !== undefined && maxUnsentOutput < 1024 * 1024) {
    throw new UsageError(`--max-unsent-output must be 1MiB or more, got "${unsent}"`);
  }
  return {
    ...(maxUnsentOutput === undefined ? {} : { maxUnsentOutput }),
    ...(port === undefined ? {} : { httpPort: integer('http-port', port, 65535) }),
    ...(host === undefined ? {} : { httpHost: host }),
    ...(maxBody === undefined ? {} : { httpMaxBodySize: integer('http-max-body', maxBody, 0xffffffff) }),
    ...(values['http-allow-remote'] ? { httpAllowRemote: true } : {}),
    ...(tls === undefined ? {} : { tls }),
  };
}
