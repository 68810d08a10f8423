import { readFileSync } from 'node:fs';
import type { TlsOptions } from '../net/address.js';
import { resolveServerTls, type ServerTlsOptions } from '../server/tls.js';
import type { OptionSpecs } from './args/option-spec.js';
import { UsageError } from './io.js';

/** The TLS options of the commands that connect to a job server (submit, admin). */
export const kClientTlsOptions = {
  tls: {
    type: 'boolean',
    help: "connect with TLS, trusting the system's CAs (implied by the other --tls-* flags)",
  },
  'tls-ca': { type: 'string', value: 'FILE', help: 'trust the server certificates this CA (PEM) signed' },
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    help: 'present this client certificate (PEM; with --tls-key)',
  },
  'tls-key': { type: 'string', value: 'FILE', help: "the client certificate's private key (PEM)" },
  'tls-insecure': {
    type: 'boolean',
    help: "do not verify the server's certificate: for tests only, anyone on the path can read and change the traffic",
  },
} as const satisfies OptionSpecs;

export interface ClientTlsValues {
  readonly tls?: boolean | undefined;
  readonly 'tls-ca'?: string | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-insecure'?: boolean | undefined;
}

/** A PEM file's contents; a file that cannot be read is a usage error naming the flag. */
function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The TlsOptions the client flags ask for, or undefined for plaintext. */
export function clientTls(values: ClientTlsValues): TlsOptions | undefined {
  const { 'tls-ca': ca, 'tls-cert': cert, 'tls-key': key } = values;
  const insecure = values['tls-insecure'] === true;
  if (values.tls !== true && ca === undefined && cert === undefined && key === undefined && !insecure) {
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  return {
    ...(ca === undefined ? {} : { ca: readPem('tls-ca', ca) }),
    ...(cert === undefined ? {} : { cert: readPem('tls-cert', cert) }),
    ...(key === undefined ? {} : { key: readPem('tls-key', key) }),
    ...(insecure ? { rejectUnauthorized: false } : {}),
  };
}

/** `gworker server`'s TLS options. */
export const kServerTlsOptions = {
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    help: 'serve TLS with this certificate chain (PEM; with --tls-key), on the port and on the HTTP gateway (HTTPS)',
  },
  'tls-key': { type: 'string', value: 'FILE', help: "the certificate's private key (PEM)" },
  'tls-ca': { type: 'string', value: 'FILE', help: 'require client certificates signed by this CA (PEM)' },
} as const satisfies OptionSpecs;

/** The server's TLS options from its flags, checked (a key that does not fit is a usage error). */
export function serverTls(values: {
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-ca'?: string | undefined;
}): ServerTlsOptions | undefined {
  const { 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca } = values;
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together');
  const options: ServerTlsOptions = {
    cert: readPem('tls-cert', cert),
    key: readPem('tls-key', key),
    ...(ca === undefined ? {} : { ca: readPem('tls-ca', ca) }),
  };
  try {
    resolveServerTls(options);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return options;
}
