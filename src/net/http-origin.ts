import type { IncomingHttpHeaders } from 'node:http';

/**
 * Where a request came from, by its Origin header (which browsers send on every
 * cross-origin request and every POST, even from forms, and old browsers do too, unlike
 * Sec-Fetch-Site): `absent` (no Origin: not a browser, or a same-origin GET), `same` (the
 * origin's host:port is the Host the request was sent to), `cross` (another one, or one
 * that does not parse), `opaque` (`null`: a sandboxed frame, a file:// page, a redirect).
 */
export type RequestOrigin = 'absent' | 'same' | 'cross' | 'opaque';

/** See RequestOrigin. Shared by the control API and the server's HTTP gateway, which refuse `cross` and `opaque`. */
export function requestOrigin(headers: IncomingHttpHeaders): RequestOrigin {
  const origin = headers.origin;
  if (origin === undefined) return 'absent';
  if (origin === 'null') return 'opaque';
  try {
    return new URL(origin).host === headers.host ? 'same' : 'cross';
  } catch {
    return 'cross';
  }
}
