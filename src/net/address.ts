/** TLS settings for a connection; contents (PEM), not file paths. */
export interface TlsOptions {
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Verify the server's certificate. @defaultValue true */
  readonly rejectUnauthorized?: boolean;
  /** Name to verify the certificate against. @defaultValue the host */
  readonly servername?: string;
}

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsOptions;
}

/** IANA's port for Gearman. */
export const DEFAULT_PORT = 4730;

/**
 * Parses `host`, `host:port`, `[v6]:port` or a ServerAddress. A bare IPv6 address
 * without brackets is taken whole as the host.
 */
export function parseServerAddress(spec: string | ServerAddress): ServerAddress {
  if (typeof spec !== 'string') {
    if (typeof spec.host !== 'string' || spec.host === '')
      throw new TypeError('server host must be a non-empty string');
    checkPort(spec.port, `${spec.host}:${spec.port}`);
    return spec;
  }
  const text = spec.trim();
  if (text === '') throw new TypeError('server address must not be empty');
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1] as string, port: portOf(bracketed[2], text) };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = text.split(':') as [string, string];
    if (host === '') throw new TypeError(`server address "${spec}" has no host`);
    return { host, port: portOf(port, text) };
  }
  return { host: text, port: DEFAULT_PORT };
}

function portOf(text: string | undefined, spec: string): number {
  if (text === undefined) return DEFAULT_PORT;
  if (!/^\d+$/.test(text)) throw new TypeError(`server address "${spec}" has a bad port`);
  const port = Number(text);
  checkPort(port, spec);
  return port;
}

function checkPort(port: number, spec: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`server address "${spec}": port must be 1-65535`);
  }
}

/** `host:port`, bracketing IPv6 hosts; used as the server's name in logs and errors. */
export function formatServerAddress(address: ServerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
