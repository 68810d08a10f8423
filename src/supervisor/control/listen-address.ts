import net from 'node:net';
import path from 'node:path';
import { MAX_PORT } from '../../limits.js';

/** Where the control API listens: a TCP host and port, or a Unix socket file. */
export type ControlListen =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/**
 * The control API's port when the manifest sets none: next to the job servers' 4730,
 * on loopback only.
 */
export const DEFAULT_CONTROL_PORT = 4731;
export const DEFAULT_CONTROL_HOST = '127.0.0.1';

/**
 * Reads a control address: `host:port`, `[v6]:port`, a port alone (on 127.0.0.1),
 * `http://host:port`, or a Unix socket path (`/run/gworker.sock`, `./ctl.sock`,
 * `unix:/run/gworker.sock`; relative paths resolve against `baseDir`). Throws a
 * TypeError saying what was expected.
 */
export function parseControlAddress(text: string, baseDir: string = process.cwd()): ControlListen {
  const value = text.trim();
  if (value.startsWith('unix:')) return unixSocket(value.slice('unix:'.length), baseDir);
  if (value.startsWith('/') || value.startsWith('./') || value.startsWith('../')) {
    return unixSocket(value, baseDir);
  }
  const bare = value.replace(/^http:\/\//, '').replace(/\/$/, '');
  if (/^\d+$/.test(bare)) return { kind: 'tcp', host: DEFAULT_CONTROL_HOST, port: port(bare, text) };
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(bare) ?? /^([^:[\]\s/]+):(\d+)$/.exec(bare);
  if (!match) {
    throw new TypeError(
      `expected "host:port", a port, or a Unix socket path starting with / or ./, got "${text}"`,
    );
  }
  return { kind: 'tcp', host: match[1] as string, port: port(match[2] as string, text) };
}

export function formatControlAddress(listen: ControlListen): string {
  if (listen.kind === 'unix') return listen.path;
  return net.isIPv6(listen.host) ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}

/**
 * True for names and addresses that only this machine can reach: 127.0.0.0/8, ::1,
 * `localhost`, and IPv4 loopback mapped into IPv6 (how a dual-stack socket reports it).
 */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

function unixSocket(file: string, baseDir: string): ControlListen {
  if (file === '') throw new TypeError('expected a Unix socket path after "unix:"');
  return { kind: 'unix', path: path.resolve(baseDir, file) };
}

function port(digits: string, text: string): number {
  const value = Number(digits);
  if (value > MAX_PORT) throw new TypeError(`port must be from 0 to ${MAX_PORT}, got "${text}"`);
  return value;
}
