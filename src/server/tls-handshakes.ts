import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../log.js';
import { BurstLog } from './burst-log.js';

/** What the guard needs to know of the server it protects. */
export interface HandshakeGuardOptions {
  /** Open connections at most, established and handshaking together (the server's maxConnections). */
  readonly maxConnections: number;
  /** Connections past their handshake now (the server's sessions). */
  readonly established: () => number;
  readonly logger: Logger;
}

/**
 * Counts the TLS handshakes in progress against maxConnections, so that a flood of TCP
 * connects that never start TLS cannot take every file descriptor (400 of them kept 275
 * sockets open and real clients were refused; issue 10, item 8). At the limit a new
 * connection takes the place of the oldest pending handshake, which is destroyed: the
 * flood only pushes itself out, and a real client, whose handshake takes milliseconds,
 * gets in. Only when every connection is established is a new one refused. Each pending
 * handshake is also closed after the TLS options' handshakeTimeout (Node's timer; it
 * reaches handleHandshakeFailures as ERR_TLS_HANDSHAKE_TIMEOUT). Evictions and refusals
 * are logged once per burst.
 */
export function guardHandshakes(server: tls.Server, options: HandshakeGuardOptions): void {
  /** Raw sockets whose handshake has not finished, oldest first (a Set keeps insertion order). */
  const pending = new Set<net.Socket>();
  const evicted = new BurstLog(
    options.logger,
    'closing the oldest pending TLS handshake: maxConnections reached',
    'more pending TLS handshakes closed: maxConnections reached',
  );
  const refused = new BurstLog(
    options.logger,
    'refusing a connection: maxConnections reached',
    'more connections refused: maxConnections reached',
  );
  // 'connection' is net.Server's: the raw socket, before tls.Server wraps it (its own
  // listener, added at construction, has already run).
  server.on('connection', (socket: net.Socket) => {
    if (options.established() + pending.size >= options.maxConnections) {
      const oldest = pending.values().next();
      if (oldest.done === true) {
        refused.note({
          peer: `${socket.remoteAddress}:${socket.remotePort}`,
          connections: options.established(),
        });
        socket.destroy();
        return;
      }
      pending.delete(oldest.value);
      evicted.note({
        peer: `${oldest.value.remoteAddress}:${oldest.value.remotePort}`,
        pending: pending.size + 1,
      });
      oldest.value.destroy();
    }
    pending.add(socket);
    socket.once('close', () => pending.delete(socket));
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    pending.delete(rawSocketOf(socket));
  });
}

/**
 * The TCP socket under a server-side TLSSocket. Node keeps it as `_parent` (lib/_tls_wrap.js,
 * since Node 0.11) and documents no other way from a secureConnection back to its
 * 'connection'; test/server/tls-handshakes.test.ts fails if that changes.
 */
function rawSocketOf(socket: tls.TLSSocket): net.Socket {
  return (socket as unknown as { _parent: net.Socket })._parent;
}
