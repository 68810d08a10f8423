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
      this.#functions.set(name, fn);
    }
    return fn;
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
