import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';

/** TLS for the server's port (and its HTTP gateway): PEM contents, not file paths. */
export interface ServerTlsOptions {
  /** The server's certificate chain (PEM). */
  readonly cert: string | Buffer;
  /** The certificate's private key (PEM). */
  readonly key: string | Buffer;
  /**
   * CA certificates that client certificates must be signed by. With it, every client
   * must present such a certificate, unless `requestCert` is false.
   */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Ask each client for a certificate and refuse the connection without a valid one
   * (checked against `ca`, or Node's root CAs when `ca` is not given).
   * @defaultValue true when `ca` is given, false otherwise
   */
  readonly requestCert?: boolean;
}

/** A client that connects and never finishes its handshake holds a socket this long at most. */
const kHandshakeTimeoutMs = 10_000;
const kFailureLogIntervalMs = 1000;

/**
 * Checks the TLS options up front (a key that does not match its certificate, or PEM
 * that does not parse, fails here, at construction, with a TypeError) and returns what
 * `tls.createServer` and `https.createServer` take; null when TLS is off.
 */
export function resolveServerTls(options: ServerTlsOptions | undefined): tls.TlsOptions | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) throw new TypeError('tls must be an object');
  const { cert, key, ca } = options;
  if (cert === undefined || key === undefined) throw new TypeError('tls needs both cert and key');
  const requestCert = options.requestCert ?? ca !== undefined;
  const resolved: tls.TlsOptions = {
    cert,
    key,
    requestCert,
    rejectUnauthorized: requestCert,
    handshakeTimeout: kHandshakeTimeoutMs,
  };
  if (ca !== undefined) resolved.ca = ca as tls.TlsOptions['ca'];
  try {
    tls.createSecureContext(resolved);
  } catch (err) {
    throw new TypeError(`tls: ${(err as Error).message}`, { cause: err });
  }
  return resolved;
}

/**
 * Logs failed TLS handshakes (a plaintext client on the TLS port, a client without an
 * accepted certificate) as one warning each, at most one a second with a count of the
 * ones left out, so that a port scan cannot flood the log. The server goes on serving.
 */
export function logHandshakeFailures(server: tls.Server, log: Logger): void {
  let last = 0;
  let suppressed = 0;
  server.on('tlsClientError', (err, socket) => {
    const now = Date.now();
    if (now - last < kFailureLogIntervalMs) {
      suppressed++;
      return;
    }
    last = now;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    log.warn(
      { peer, err: { message: err.message, code: (err as NodeJS.ErrnoException).code }, suppressed },
      'TLS handshake failed',
    );
    suppressed = 0;
  });
}

/**
 * The listener of the binary and admin port: plain TCP, or TLS when `tlsOptions` is
 * given, in which case `onSocket` receives sockets whose handshake succeeded.
 */
export function createListener(
  tlsOptions: tls.TlsOptions | null,
  onSocket: (socket: net.Socket) => void,
  log: Logger,
): net.Server {
  if (tlsOptions === null) return net.createServer({ noDelay: true, keepAlive: true }, onSocket);
  const server = tls.createServer({ ...tlsOptions, noDelay: true, keepAlive: true }, onSocket);
  logHandshakeFailures(server, log);
  return server;
}
