import { EventEmitter } from 'node:events';
import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';

export interface ChangeWatcherEvents {
  /** Handler code changed: the functions whose code may be affected, after debouncing. */
  handlers: [functions: string[]];
  /** The manifest file changed. */
  manifest: [];
  error: [error: Error];
}

export interface WatchedFunction {
  readonly name: string;
  /** Absolute path of the handler module. */
  readonly handler: string;
}

/** Editors write a file in bursts (temp file, rename, chmod): one reload per burst. */
const kDefaultDebounceMs = 150;
const kIgnored = /(^|[/\\])(node_modules|\.git)([/\\]|$)|(~|\.sw[a-p]|\.tmp)$/;

/**
 * Watches handler files, their folders (a handler may import siblings) and the
 * manifest, and reports debounced changes. A change to a handler file reloads that
 * function; a change to any other file in a handler's folder reloads every function
 * whose handler lives there, since it may be one of their imports.
 */
export class ChangeWatcher extends EventEmitter<ChangeWatcherEvents> {
  readonly #manifest: string | null;
  readonly #debounceMs: number;
  #functions: readonly WatchedFunction[] = [];
  #watcher: FSWatcher | null = null;
  #pending = new Set<string>();
  #manifestPending = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: { manifest?: string; debounceMs?: number } = {}) {
    super();
    this.#manifest = options.manifest === undefined ? null : path.resolve(options.manifest);
    this.#debounceMs = options.debounceMs ?? kDefaultDebounceMs;
  }

  /** Starts watching, or re-targets the watch after the function list changed. */
  async watch(functions: readonly WatchedFunction[]): Promise<void> {
    this.#functions = functions;
    const wanted = new Set<string>();
    for (const fn of functions) wanted.add(path.dirname(fn.handler));
    if (this.#manifest !== null) wanted.add(this.#manifest);
    if (this.#watcher === null) {
      this.#watcher = watch([...wanted], {
        ignoreInitial: true,
        ignored: (file: string) => kIgnored.test(file),
        // Handlers import siblings; deeper folders are their own packages' business.
        depth: 2,
      });
      this.#watcher.on('all', (_event, file) => this.#onChange(path.resolve(file)));
      this.#watcher.on('error', (err) => this.emit('error', err as Error));
      await new Promise<void>((resolve) => this.#watcher?.once('ready', () => resolve()));
      return;
    }
    const current = new Set(Object.keys(this.#watcher.getWatched()).map((dir) => path.resolve(dir)));
    const added = [...wanted].filter((p) => !current.has(p) && !current.has(path.dirname(p)));
    if (added.length > 0) this.#watcher.add(added);
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#watcher?.close();
    this.#watcher = null;
  }

  #onChange(file: string): void {
    if (file === this.#manifest) {
      this.#manifestPending = true;
    } else {
      const exact = this.#functions.filter((fn) => fn.handler === file);
      const affected =
        exact.length > 0 ? exact : this.#functions.filter((fn) => isInside(file, path.dirname(fn.handler)));
      for (const fn of affected) this.#pending.add(fn.name);
      if (affected.length === 0) return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), this.#debounceMs);
  }

  #flush(): void {
    this.#timer = null;
    if (this.#manifestPending) {
      this.#manifestPending = false;
      this.emit('manifest');
    }
    if (this.#pending.size > 0) {
      const names = [...this.#pending];
      this.#pending.clear();
      this.emit('handlers', names);
    }
  }
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
