import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HandlerLoadFailure, locateLoadFailure } from './load-location.js';

export type HandlerFunction = (payload: unknown, job: unknown) => unknown;

const kTypeScript = new Set(['.ts', '.mts', '.cts']);

/**
 * Imports a handler module in this thread and returns its handler export. TypeScript
 * loads through tsx's tsImport (a loader scoped to that import), because loader flags in
 * the pool's execArgv do not reach worker threads. A .ts file compiled as CommonJS
 * arrives with its default export wrapped once more (`mod.default.default`).
 */
export async function loadHandler(file: string, exportName: string): Promise<HandlerFunction> {
  const url = pathToFileURL(file).href;
  let mod: Record<string, unknown>;
  try {
    if (kTypeScript.has(path.extname(file))) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(url)) as Record<string, unknown>;
    }
  } catch (err) {
    throw locateLoadFailure(err, file);
  }
  const found = pick(mod, exportName) ?? pick(mod.default as Record<string, unknown> | undefined, exportName);
  if (typeof found !== 'function') {
    const names = Object.keys(mod).filter((k) => k !== '__esModule');
    throw new HandlerLoadFailure(
      'TypeError',
      `no function export "${exportName}" (it exports: ${names.length > 0 ? names.join(', ') : 'nothing'})`,
      file,
    );
  }
  return found as HandlerFunction;
}

function pick(mod: Record<string, unknown> | undefined, name: string): unknown {
  if (mod === undefined || mod === null) return undefined;
  const value = mod[name];
  if (name === 'default' && typeof value === 'object' && value !== null && 'default' in value) {
    return (value as Record<string, unknown>).default;
  }
  return value;
}
