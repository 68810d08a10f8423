import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { requestOrigin } from '../../net/http-origin.js';
import { ApiError } from './http-io.js';
import { isLoopback } from './listen-address.js';

/** Who may use the control API. */
export interface AccessPolicy {
  /** Every request but the dashboard's static files must carry `Authorization: Bearer TOKEN`. */
  readonly token?: string;
  /** Accept peers on other hosts (only ever with a token). */
  readonly allowRemote: boolean;
}

/**
 * Refuses a request that may not use the API; returns normally otherwise. The checks
 * beyond the token are for the default, token-less loopback API that a browser on the
 * same machine can reach:
 * - a peer that is not this machine, unless remote peers are allowed;
 * - a Host header that is not loopback: a web page that rebinds its own DNS name to
 *   127.0.0.1 would otherwise read the API as if it were same-origin;
 * - on commands, an Origin from elsewhere or a body that is not JSON: a form that any web
 *   page can post cross-site is neither (JSON needs a CORS preflight, which is never granted).
 */
export function checkAccess(req: IncomingMessage, policy: AccessPolicy, needsToken: boolean): void {
  const peer = req.socket.remoteAddress;
  // A Unix socket has no peer address: its file mode decides who connects.
  const tcp = peer !== undefined;
  if (tcp && !policy.allowRemote) {
    if (!isLoopback(peer))
      throw new ApiError(403, 'forbidden_peer', 'the control API only answers this machine');
    if (!isLoopback(hostName(req.headers.host ?? ''))) {
      throw new ApiError(
        403,
        'bad_host',
        'the Host header must name this machine (127.0.0.1, localhost or [::1])',
      );
    }
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const origin = requestOrigin(req.headers);
    if (origin === 'cross') {
      throw new ApiError(403, 'cross_origin', 'commands are not accepted from another origin');
    }
    if (origin === 'opaque')
      throw new ApiError(403, 'cross_origin', 'commands are not accepted from an opaque origin');
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      throw new ApiError(415, 'json_required', 'commands take a JSON body (content-type: application/json)');
    }
  }
  if (needsToken && policy.token !== undefined && !tokenMatches(req.headers.authorization, policy.token)) {
    throw new ApiError(401, 'unauthorized', 'missing or wrong token (Authorization: Bearer TOKEN)', {
      'www-authenticate': 'Bearer realm="gworker"',
    });
  }
}

/**
 * May this caller read the box's state without having been asked for the token? A Unix
 * socket's peer (its file mode let it in), a loopback peer, or anyone holding the token.
 * The probes answer everyone their status; only trusted callers read why.
 */
export function isTrustedCaller(req: IncomingMessage, policy: AccessPolicy): boolean {
  const peer = req.socket.remoteAddress;
  if (peer === undefined || isLoopback(peer)) return true;
  return policy.token !== undefined && tokenMatches(req.headers.authorization, policy.token);
}

/**
 * Compares in constant time: both sides are hashed first, so neither the token's length
 * nor its prefix leaks through how long a wrong guess takes.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256')
    .update(match?.[1] ?? '')
    .digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && match !== null;
}

function hostName(host: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1] as string;
  return host.replace(/:\d+$/, '');
}
