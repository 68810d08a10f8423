import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { requestOrigin } from '../../net/http-origin.js';

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  return ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}

/** The host part of a Host header: `name`, `name:port`, `[v6]` or `[v6]:port`. */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}

/**
 * Why a request must be refused (403), or null to serve it. The gateway has no
 * authentication, so by default it serves loopback clients only, and only when they
 * name a loopback host: a browser tricked by DNS rebinding sends the attacker's name
 * as Host. Requests a browser marks as cross-site (Sec-Fetch-Site), or whose Origin is
 * another site or opaque, are always refused: a page elsewhere must not be able to submit
 * jobs through a simple POST, and old browsers send Origin but no Sec-Fetch-Site (issue
 * 10, item 10). The control API refuses the same origins (src/supervisor/control/access.ts).
 */
export function refusalReason(req: IncomingMessage, allowRemote: boolean): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return 'cross-site browser requests are refused';
  }
  const origin = requestOrigin(req.headers);
  if (origin === 'cross')
    return 'requests from another origin are refused (the Origin header names another site)';
  if (origin === 'opaque') return 'requests from an opaque origin (Origin: null) are refused';
  if (allowRemote) return null;
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    return 'the HTTP gateway serves loopback clients only (see httpAllowRemote, --http-allow-remote)';
  }
  const host = req.headers.host;
  if (host !== undefined && !isLoopbackName(hostName(host))) {
    return 'the Host header must name a loopback address (see httpAllowRemote, --http-allow-remote)';
  }
  return null;
}
