import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlApi } from './control-api.js';
import { ApiError, readJsonBody, sendJson } from './http-io.js';

/**
 * The failure records on the control API (routes.ts lists them with the others):
 *
 *   GET  /api/failures[?function=F&limit=N]   newest first (default 20)
 *   GET  /api/failures/ID                     one record in full
 *   POST /api/failures/retry                  { "ids": [1, 2] } or { "function": "F" }
 *   POST /api/failures/purge                  {} or { "function": "F" }
 */
export const failureRoutes = [
  {
    method: 'GET',
    path: /^\/api\/failures$/,
    handle: async (
      api: ControlApi,
      _req: IncomingMessage,
      res: ServerResponse,
      _p: readonly string[],
      url: URL,
    ) => {
      const fn = url.searchParams.get('function');
      const limit = url.searchParams.get('limit');
      sendJson(
        res,
        200,
        api.failures.list({
          ...(fn === null ? {} : { function: fn }),
          ...(limit === null ? {} : { limit: Number(limit) }),
        }),
      );
    },
  },
  {
    method: 'GET',
    path: /^\/api\/failures\/(\d+)$/,
    handle: async (api: ControlApi, _req: IncomingMessage, res: ServerResponse, [id]: readonly string[]) => {
      sendJson(res, 200, api.failures.show(Number(id)));
    },
  },
  {
    method: 'POST',
    path: /^\/api\/failures\/retry$/,
    handle: async (api: ControlApi, req: IncomingMessage, res: ServerResponse) => {
      const body = await readJsonBody(req);
      const fn = optionalFunction(body.function);
      const ids = body.ids;
      if (fn === undefined && !(Array.isArray(ids) && ids.length > 0 && ids.every(isId))) {
        throw new ApiError(400, 'bad_selection', 'give "ids" (record ids) or "function"');
      }
      sendJson(
        res,
        200,
        await api.failures.retry(fn === undefined ? { ids: ids as number[] } : { function: fn }),
      );
    },
  },
  {
    method: 'POST',
    path: /^\/api\/failures\/purge$/,
    handle: async (api: ControlApi, req: IncomingMessage, res: ServerResponse) => {
      const body = await readJsonBody(req);
      sendJson(res, 200, api.failures.purge(optionalFunction(body.function)));
    },
  },
] as const;

function optionalFunction(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new ApiError(400, 'bad_function', '"function" must be a name');
  return value;
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}
