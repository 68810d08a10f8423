import net from 'node:net';
import tls from 'node:tls';
import { MAX_TIMER_MS } from '../limits.js';
import type { Logger } from '../log.js';
import { BurstLog } from './burst-log.js';
import { integerOption } from './option-checks.js';
import { guardHandshakes, type HandshakeGuardOptions } from './tls-handshakes.js';

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
  /**
   * A client that connects and does not finish its TLS handshake within this many
   * milliseconds is closed (`--tls-handshake-timeout`). Handshakes in progress also count
   * against maxConnections. @defaultValue 10000
   */
  readonly handshakeTimeoutMs?: number;
}

const kDefaultHandshakeTimeoutMs = 10_000;

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
    handshakeTimeout: integerOption(
      'tls.handshakeTimeoutMs',
      options.handshakeTimeoutMs,
      kDefaultHandshakeTimeoutMs,
      1,
      MAX_TIMER_MS,
    ),
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
 * Closes the connection of a failed TLS handshake (a plaintext client on the TLS port, a
 * client without an accepted certificate, one that timed out) and logs it once per
 * burst: the first as a warning of its own, the rest of that second in one line with
 * their count, so that a port scan cannot flood the log. The server goes on serving.
 * Closing is ours to do: Node emits ERR_TLS_HANDSHAKE_TIMEOUT as an 'error' and leaves
 * the socket open (400 silent connects kept 275 sockets; issue 10, item 8).
 */
export function handleHandshakeFailures(server: tls.Server, log: Logger): void {
  const failures = new BurstLog(log, 'TLS handshake failed', 'more TLS handshakes failed');
  server.on('tlsClientError', (err, socket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.destroy();
    failures.note({ peer, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } });
  });
}

/**
 * The listener of the binary and admin port: plain TCP, or TLS when `tlsOptions` is
 * given, in which case `onSocket` receives sockets whose handshake succeeded.
 */
export function createListener(
  tlsOptions: tls.TlsOptions | null,
  onSocket: (socket: net.Socket) => void,
  guard: HandshakeGuardOptions,
): net.Server {
  if (tlsOptions === null) return net.createServer({ noDelay: true, keepAlive: true }, onSocket);
  const server = tls.createServer({ ...tlsOptions, noDelay: true, keepAlive: true }, onSocket);
  handleHandshakeFailures(server, guard.logger);
  guardHandshakes(server, guard);
  return server;
}
