import { FunctionEntry } from './function-entry.js';
import type { ServerRequest } from './request.js';

/**
 * The functions the server knows, by name (latin1 key of the name's bytes), in the
 * order they became known: the admin listings follow it.
 */
export class ServerFunctionRegistry {
  readonly #functions = new Map<string, FunctionEntry>();
  /** The function named last: pipelined submits name the same one over and over. */
  #last: FunctionEntry | null = null;
  /**
   * `maxrunning` caps by name, set before or after the function is known: a function
   * made later takes its cap, and `drop function` does not forget it.
   */
  readonly #caps = new Map<string, number>();

  get size(): number {
    return this.#functions.size;
  }

  get(name: string): FunctionEntry | undefined {
    return this.#functions.get(name);
  }

  getOrCreate(name: string): FunctionEntry {
    let fn = this.#functions.get(name);
    if (fn === undefined) {
      fn = new FunctionEntry(name);
      if (this.#caps.size > 0) fn.maxRunning = this.#caps.get(name) ?? 0;
      this.#functions.set(name, fn);
    }
    return fn;
  }

  /**
   * Caps the jobs of `name` running at once (0: no cap). Returns the function when the
   * server knows it already, so the caller can wake its sleepers.
   */
  setMaxRunning(name: string, cap: number): FunctionEntry | undefined {
    if (cap === 0) this.#caps.delete(name);
    else this.#caps.set(name, cap);
    const fn = this.#functions.get(name);
    if (fn !== undefined) fn.maxRunning = cap;
    return fn;
  }

  /** Every cap set, by name in the order set, with the function when it is known. */
  *caps(): IterableIterator<[name: string, cap: number, fn: FunctionEntry | undefined]> {
    for (const [name, cap] of this.#caps) yield [name, cap, this.#functions.get(name)];
  }

  /** getOrCreate() for a name as the bytes of a packet argument. */
  getOrCreateBytes(name: Buffer): FunctionEntry {
    const last = this.#last;
    if (last?.nameBytes.equals(name)) return last;
    const fn = this.getOrCreate(name.toString('latin1'));
    this.#last = fn;
    return fn;
  }

  /** getOrCreate() for the name in argument `index` of a packet, read in place. */
  getOrCreateArg(packet: ServerRequest, index: number): FunctionEntry {
    const last = this.#last;
    if (last !== null && packet.argEquals(index, last.nameBytes)) return last;
    const fn = this.getOrCreate(packet.argLatin1(index));
    this.#last = fn;
    return fn;
  }

  /** The first function whose name matches without regard to ASCII case (gearmand's `drop function`). */
  findIgnoringCase(name: string): FunctionEntry | undefined {
    const exact = this.#functions.get(name);
    if (exact !== undefined) return exact;
    const lower = asciiLower(name);
    for (const fn of this.#functions.values()) if (asciiLower(fn.name) === lower) return fn;
    return undefined;
  }

  delete(fn: FunctionEntry): void {
    if (this.#functions.get(fn.name) === fn) this.#functions.delete(fn.name);
    if (this.#last === fn) this.#last = null;
  }

  values(): IterableIterator<FunctionEntry> {
    return this.#functions.values();
  }
}

/** strcasecmp's folding: ASCII letters only, whatever else the bytes hold. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
