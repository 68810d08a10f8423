import { EventEmitter } from 'node:events';
import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { codeFilesOf } from './code-files.js';

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
  /**
   * The files the function's code was loaded from, as its thread recorded them
   * (Supervisor.codeFiles()); the handler is watched in any case.
   */
  readonly files: readonly string[];
}

/** Editors write a file in bursts (temp file, rename, chmod): one reload per burst. */
const kDefaultDebounceMs = 150;

/**
 * Watches the files each function's code was loaded from (reload/code-files.ts) and the
 * manifest, and reports debounced changes: a change to one of a function's files
 * reloads that function (and every other one that loaded the file). Nothing else is
 * watched, so a handler may write logs and data next to itself.
 */
export class ChangeWatcher extends EventEmitter<ChangeWatcherEvents> {
  readonly #manifest: string | null;
  readonly #debounceMs: number;
  /** Each watched code file, with the functions that loaded it. */
  #owners = new Map<string, string[]>();
  #watcher: FSWatcher | null = null;
  #pending = new Set<string>();
  #manifestPending = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: { manifest?: string; debounceMs?: number } = {}) {
    super();
    this.#manifest = options.manifest === undefined ? null : path.resolve(options.manifest);
    this.#debounceMs = options.debounceMs ?? kDefaultDebounceMs;
  }

  /** Starts watching, or re-targets the watch after the functions or their files changed. */
  async watch(functions: readonly WatchedFunction[]): Promise<void> {
    // A late re-target (a handler's import on first use) may come in during shutdown.
    if (this.#closed) return;
    const before = new Set(this.#owners.keys());
    this.#owners = ownersOf(functions);
    const wanted = new Set(this.#owners.keys());
    if (this.#manifest !== null) wanted.add(this.#manifest);
    if (this.#watcher === null) {
      this.#watcher = watch([...wanted], { ignoreInitial: true });
      this.#watcher.on('all', (_event, file) => this.#onChange(path.resolve(file)));
      this.#watcher.on('error', (err) => this.emit('error', err as Error));
      await new Promise<void>((resolve) => this.#watcher?.once('ready', () => resolve()));
      return;
    }
    if (this.#manifest !== null) before.add(this.#manifest);
    const added = [...wanted].filter((file) => !before.has(file));
    const dropped = [...before].filter((file) => !wanted.has(file));
    if (dropped.length > 0) this.#watcher.unwatch(dropped);
    if (added.length > 0) this.#watcher.add(added);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#watcher?.close();
    this.#watcher = null;
  }

  #onChange(file: string): void {
    if (file === this.#manifest) {
      this.#manifestPending = true;
    } else {
      const owners = this.#owners.get(file);
      if (owners === undefined) return;
      for (const name of owners) this.#pending.add(name);
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

function ownersOf(functions: readonly WatchedFunction[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const fn of functions) {
    for (const file of codeFilesOf(fn.handler, fn.files)) {
      const names = owners.get(file);
      if (names === undefined) owners.set(file, [fn.name]);
      else names.push(fn.name);
    }
  }
  return owners;
}
