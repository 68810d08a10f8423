import type { IncomingMessage, ServerResponse } from 'node:http';
import { probeReply } from '../health/probe-reply.js';
import type { ControlApi } from './control-api.js';
import { failureRoutes } from './failure-routes.js';
import { ApiError, readJsonBody, sendJson, sendText } from './http-io.js';

/** Who asks: `trusted` callers (loopback, the Unix socket, or the token) may read the box's state. */
export interface Caller {
  readonly trusted: boolean;
}

type Handler = (
  api: ControlApi,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
  url: URL,
  caller: Caller,
) => Promise<void>;

interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly handle: Handler;
}

/** A function name in a path: percent-encoded, any byte but `/` (Gearman allows nearly anything). */
const kName = '([^/]+)';

/** The probes' paths: open to callers without the token (see below). */
export const kProbePaths: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/**
 * The control API. Reads are GET; commands are POST with a JSON body, and answer the
 * state they left behind (the function after pause, resume or scale).
 *
 *   GET  /api/status[?queues=0]         functions, servers, queue depths (StatusDocument)
 *   GET  /api/history                   per-function job counts, run times and queue depths in buckets
 *   GET  /api/errors                    per-function recent failures with their messages
 *   GET  /api/workers                   who serves each function on the job servers (cached 5 s)
 *   POST /api/functions/NAME/pause      stop taking jobs of NAME; running ones finish
 *   POST /api/functions/NAME/resume     take jobs again
 *   POST /api/functions/NAME/scale      { "concurrency": N } (manual, held) or { "auto": true }
 *   POST /api/reload                    re-read the manifest, reload handler code
 *   POST /api/drain                     stop taking jobs, finish running ones, exit
 *   GET  /metrics                       Prometheus text format
 *   GET  /healthz[?verbose]             200 "ok" while the event loop runs; 503 and why not
 *   GET  /readyz[?verbose]              200 "ok" while connected (a server per function) and
 *                                       not draining; 503 and why not
 *   .../api/failures...                 the failure records (failure-routes.ts)
 *
 * The probes need no token: a kubelet or a load balancer rarely has one. Untrusted
 * callers get the status and the names of the failed checks, with the reasons withheld.
 */
export const routes: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/api\/status$/,
    handle: async (api, _req, res, _params, url) => {
      sendJson(res, 200, await api.status({ queues: url.searchParams.get('queues') !== '0' }));
    },
  },
  {
    method: 'GET',
    path: /^\/api\/history$/,
    handle: async (api, _req, res) => sendJson(res, 200, api.history()),
  },
  {
    method: 'GET',
    path: /^\/api\/errors$/,
    handle: async (api, _req, res) => sendJson(res, 200, api.errors()),
  },
  {
    method: 'GET',
    path: /^\/api\/workers$/,
    handle: async (api, _req, res) => sendJson(res, 200, await api.workers()),
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/functions/${kName}/pause$`),
    handle: async (api, req, res, [name]) => {
      await readJsonBody(req);
      sendJson(res, 200, api.pause(decodeName(name)));
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/functions/${kName}/resume$`),
    handle: async (api, req, res, [name]) => {
      await readJsonBody(req);
      sendJson(res, 200, api.resume(decodeName(name)));
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/functions/${kName}/scale$`),
    handle: async (api, req, res, [name]) => {
      const body = await readJsonBody(req);
      sendJson(res, 200, await api.scale(decodeName(name), body));
    },
  },
  {
    method: 'POST',
    path: /^\/api\/reload$/,
    handle: async (api, req, res) => {
      await readJsonBody(req);
      const reply = await api.reload();
      sendJson(res, reply.ok ? 200 : 422, reply);
    },
  },
  {
    method: 'POST',
    path: /^\/api\/drain$/,
    handle: async (api, req, res) => {
      await readJsonBody(req);
      sendJson(res, 202, api.drain());
    },
  },
  {
    method: 'GET',
    path: /^\/metrics$/,
    handle: async (api, _req, res) => {
      const text = await api.metricsText();
      res.writeHead(200, { 'content-type': api.metrics.contentType, 'cache-control': 'no-store' });
      res.end(text);
    },
  },
  {
    method: 'GET',
    path: /^\/healthz$/,
    handle: async (api, _req, res, _params, url, caller) => {
      const reply = probeReply('healthz', api.health(), probeOptions(url, caller));
      sendText(res, reply.status, reply.body);
    },
  },
  {
    method: 'GET',
    path: /^\/readyz$/,
    handle: async (api, _req, res, _params, url, caller) => {
      const reply = probeReply('readyz', api.readiness(), probeOptions(url, caller));
      sendText(res, reply.status, reply.body);
    },
  },
  ...failureRoutes,
];

/** `?verbose` (any value but 0 or false) lists every check, as Kubernetes' probes do. */
function probeOptions(url: URL, caller: Caller): { verbose: boolean; withhold: boolean } {
  const verbose = url.searchParams.get('verbose');
  return { verbose: verbose !== null && verbose !== '0' && verbose !== 'false', withhold: !caller.trusted };
}

/** The route for a request, or an ApiError: 404 for an unknown path, 405 for a known one with the wrong method. */
export function findRoute(method: string, pathname: string): { route: Route; params: string[] } {
  let pathKnown = false;
  for (const route of routes) {
    const match = route.path.exec(pathname);
    if (match === null) continue;
    pathKnown = true;
    if (route.method === method) return { route, params: match.slice(1) };
  }
  if (pathKnown) throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`);
  throw new ApiError(404, 'not_found', `no such endpoint: ${pathname}`);
}

function decodeName(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    throw new ApiError(400, 'bad_name', 'the function name is not valid percent-encoding');
  }
}
