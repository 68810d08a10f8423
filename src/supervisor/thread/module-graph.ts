import { createRequire, register } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

/**
 * A resolve hook that tells this thread of every file an `import` resolved to. It runs
 * in Node's hooks thread (module.register), so it is plain JavaScript in a data: URL:
 * no file to ship beside the compiled entry, and nothing for tsx to compile there.
 * Hooks registered after it (tsx's, for TypeScript) call it through nextResolve, so it
 * sees their imports too.
 */
const kResolveHook = `
const seen = new Set();
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const url = resolved.url;
  if (url.startsWith('file:') && !seen.has(url)) {
    seen.add(url);
    port.postMessage(url);
  }
  return resolved;
}
`;

const kDependency = /[/\\]node_modules[/\\]/;
/** gworker's own code (src/ or dist/): the thread entry shows up in require.cache once compiled. */
const kOwnCode = `${path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))))}${path.sep}`;
/** tsx keys the CommonJS modules it compiles with a query of its own. */
const kTsxQuery = /\?namespace=[^/\\]*$/;

/** Whether `file` is the handlers' own code: neither a dependency nor gworker's own. */
export function isHandlerCode(file: string): boolean {
  return !kDependency.test(file) && !file.startsWith(kOwnCode);
}

/** A require.cache key as a path: tsx's query taken off; null for data: URL modules. */
export function cacheKeyPath(key: string): string | null {
  return path.isAbsolute(key) ? key.replace(kTsxQuery, '') : null;
}

/**
 * The files this thread has loaded: ESM imports through a resolve hook, CommonJS
 * through require.cache (Node 20's hooks do not see require()). Dependencies under
 * node_modules and gworker's own files are left out: the change watcher follows the
 * handler's own code.
 *
 * It costs a hooks thread (about 6 MB and 30 ms at start, measured on Node 20), so a
 * pool tracks its first thread only: every thread of a generation loads the same code.
 */
export class ModuleGraph {
  readonly #port: MessagePort;
  readonly #cache = createRequire(import.meta.url).cache;
  readonly #files = new Set<string>();

  private constructor(port: MessagePort) {
    this.#port = port;
  }

  /** Starts recording imports made in this thread from now on. */
  static track(): ModuleGraph {
    return new ModuleGraph(registerHook(kResolveHook));
  }

  /**
   * Files loaded since the last call. A hook's message is posted before its import
   * resolves, so once an import has resolved its files are all waiting on the port.
   */
  collect(): string[] {
    const added: string[] = [];
    for (
      let next = receiveMessageOnPort(this.#port);
      next !== undefined;
      next = receiveMessageOnPort(this.#port)
    ) {
      this.#add(fileURLToPath(next.message as string), added);
    }
    for (const key of Object.keys(this.#cache)) {
      const file = cacheKeyPath(key);
      if (file !== null) this.#add(file, added);
    }
    return added;
  }

  /** Calls `listener` with files imported later (a handler that imports on first use). */
  onLater(listener: (files: string[]) => void): void {
    let later: string[] = [];
    let scheduled = false;
    this.#port.on('message', (url: string) => {
      this.#add(fileURLToPath(url), later);
      if (scheduled) return;
      scheduled = true;
      // One call for an import and everything it pulls in (and what require() added).
      setImmediate(() => {
        scheduled = false;
        const added = [...later, ...this.collect()];
        later = [];
        if (added.length > 0) listener(added);
      });
    });
    // A 'message' listener refs the port; it must not keep the thread alive.
    this.#port.unref();
  }

  #add(file: string, added: string[]): void {
    if (!isHandlerCode(file) || this.#files.has(file)) return;
    this.#files.add(file);
    added.push(file);
  }
}

/**
 * Registers a module hook written as plain JavaScript (run in Node's hooks thread) and
 * returns the port its `initialize` was given the other end of; unref'd, so it never
 * holds the thread open.
 */
export function registerHook(source: string): MessagePort {
  const { port1, port2 } = new MessageChannel();
  register(`data:text/javascript,${encodeURIComponent(source)}`, {
    data: { port: port2 },
    transferList: [port2],
  });
  port1.unref();
  return port1;
}
