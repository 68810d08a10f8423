import { readFileSync } from 'node:fs';
import type { TlsOptions } from '../net/address.js';
import { resolveServerTls, type ServerTlsOptions } from '../server/tls.js';
import { UsageError } from './io.js';

/** parseArgs config of the TLS flags of the commands that connect to a job server. */
export const kClientTlsOptions = {
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-insecure': { type: 'boolean' },
} as const;

const kClientTlsHelp: ReadonlyArray<readonly [string, string]> = [
  ['--tls', "connect with TLS, trusting the system's CAs (implied by the other --tls-* flags)"],
  ['--tls-ca FILE', 'trust the server certificates this CA (PEM) signed'],
  ['--tls-cert FILE', 'present this client certificate (PEM; with --tls-key)'],
  ['--tls-key FILE', "the client certificate's private key (PEM)"],
  [
    '--tls-insecure',
    "do not verify the server's certificate: for tests only, anyone on the path can read and change the traffic",
  ],
];

/**
 * Their lines in a command's --help, descriptions starting at `column` (the commands
 * align their option lists differently) and wrapped before 92 characters.
 */
export function clientTlsUsage(column: number): string {
  let out = '';
  for (const [flag, text] of kClientTlsHelp) {
    let line = `      ${flag}`.padEnd(column);
    for (const word of text.split(' ')) {
      if (line.length + word.length > 92 && line.trim() !== flag) {
        out += `${line.trimEnd()}\n`;
        line = ' '.repeat(column);
      }
      line += `${word} `;
    }
    out += `${line.trimEnd()}\n`;
  }
  return out;
}

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

/** parseArgs config of `gworker server`'s TLS flags. */
export const kServerTlsOptions = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
} as const;

export const kServerTlsUsage = `      --tls-cert FILE        serve TLS with this certificate chain (PEM; with --tls-key), on the
                             port and on the HTTP gateway (HTTPS)
      --tls-key FILE         the certificate's private key (PEM)
      --tls-ca FILE          require client certificates signed by this CA (PEM)
`;

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
