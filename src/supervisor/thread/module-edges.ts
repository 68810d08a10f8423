import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { cacheKeyPath, isHandlerCode, registerHook } from './module-graph.js';

/**
 * Like ModuleGraph's hook, but it tells of every (importer, imported) pair, not only of
 * each file once: when several handlers load in one thread, a file the second one
 * imports is already loaded, and only the pair says the second one needs it too.
 */
const kEdgeHook = `
const seen = new Set();
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const url = resolved.url;
  const parent = context.parentURL ?? '';
  const key = parent + ' ' + url;
  if (url.startsWith('file:') && !seen.has(key)) {
    seen.add(key);
    port.postMessage([parent, url]);
  }
  return resolved;
}
`;

/** A file: URL as a path (tsx's query, if any, dropped); null for other URLs. */
function urlPath(url: string): string | null {
  return url.startsWith('file:') ? fileURLToPath(url) : null;
}

/**
 * Who imported what in this thread: ESM imports through a resolve hook (with the
 * importer's URL), CommonJS through require.cache's `children` (Node 20's hooks do not
 * see require()). From it, the files one handler loaded, when several handlers loaded
 * in this thread (thread/check-entry.ts): everything reachable from the handler's file,
 * dependencies and gworker's own files left out (and not walked through).
 */
export class ModuleEdges {
  readonly #port: MessagePort;
  readonly #cache = createRequire(import.meta.url).cache;
  readonly #imports = new Map<string, Set<string>>();

  private constructor(port: MessagePort) {
    this.#port = port;
  }

  /** Starts recording imports made in this thread from now on (costs a hooks thread). */
  static track(): ModuleEdges {
    return new ModuleEdges(registerHook(kEdgeHook));
  }

  /**
   * The handler code reachable from `handler`, itself included. Call it once the imports
   * have settled: a hook's message is posted before its import resolves.
   */
  filesOf(handler: string): string[] {
    this.#drain();
    const required = this.#requireEdges();
    const found = new Set<string>([handler]);
    const todo = [handler];
    for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
      for (const next of [...(this.#imports.get(file) ?? []), ...(required.get(file) ?? [])]) {
        if (found.has(next) || !isHandlerCode(next)) continue;
        found.add(next);
        todo.push(next);
      }
    }
    return [...found];
  }

  /** require() pairs: require.cache keys (tsx adds a query to its own) to their children. */
  #requireEdges(): Map<string, string[]> {
    const edges = new Map<string, string[]>();
    for (const [key, mod] of Object.entries(this.#cache)) {
      const file = cacheKeyPath(key);
      if (file === null || mod === undefined) continue;
      const children: string[] = [];
      for (const child of mod.children) {
        const path = cacheKeyPath(child.id === '.' ? child.filename : child.id);
        if (path !== null) children.push(path);
      }
      edges.set(file, [...(edges.get(file) ?? []), ...children]);
    }
    return edges;
  }

  #drain(): void {
    for (
      let next = receiveMessageOnPort(this.#port);
      next !== undefined;
      next = receiveMessageOnPort(this.#port)
    ) {
      const [parentUrl, url] = next.message as [string, string];
      const parent = urlPath(parentUrl);
      const file = urlPath(url);
      if (parent === null || file === null) continue;
      const imports = this.#imports.get(parent) ?? new Set<string>();
      imports.add(file);
      this.#imports.set(parent, imports);
    }
  }
}
