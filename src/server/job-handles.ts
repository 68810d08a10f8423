import os from 'node:os';
import { MAX_JOB_HANDLE_SIZE } from '../protocol/constants.js';

/** gearmand's default prefix: `H:` and the host name. */
export function defaultJobHandlePrefix(): string {
  return `H:${os.hostname()}`;
}

const kMaxCounter = 0xffffffff;
const kZero = 0x30;

/**
 * Makes job handles `<prefix>:<n>`, n counting from 1 as gearmand does, and reads them
 * back. A job is known by its number: a handle that arrives in a WORK_* packet is
 * parsed to it without building a string, and the job index is keyed by small integers.
 * Handles are latin1 strings of the prefix's UTF-8 bytes. Like gearmand's, the counter
 * restarts with the server.
 */
export class JobHandles {
  /** `<prefix>:` as a latin1 string of its bytes. */
  readonly #prefix: string;
  readonly #prefixBytes: Buffer;
  #counter = 0;
  /** The counter went past 2^32 - 1 once: from then on a number may still be in use. */
  #wrapped = false;

  constructor(prefix: string) {
    const bytes = Buffer.from(prefix, 'utf8');
    if (bytes.includes(0)) throw new TypeError('jobHandlePrefix must not contain NUL');
    // Leave room for ':' and a 10-digit counter inside the 64-byte handle limit (with its NUL).
    if (bytes.length > MAX_JOB_HANDLE_SIZE - 13) {
      throw new RangeError(`jobHandlePrefix must be at most ${MAX_JOB_HANDLE_SIZE - 13} bytes`);
    }
    this.#prefixBytes = Buffer.concat([bytes, Buffer.from(':')]);
    this.#prefix = this.#prefixBytes.toString('latin1');
  }

  /**
   * The next job number. gearmand's counter is a uint32 and wraps; so does this one,
   * skipping numbers still in use (`taken`).
   */
  next(taken: (id: number) => boolean): number {
    do {
      if (this.#counter === kMaxCounter) {
        this.#counter = 0;
        this.#wrapped = true;
      }
      this.#counter++;
    } while (this.#wrapped && taken(this.#counter));
    return this.#counter;
  }

  format(id: number): string {
    return this.#prefix + id;
  }

  /** The length in bytes of the handle of job `id`. */
  byteLength(id: number): number {
    return this.#prefixBytes.length + digitCount(id);
  }

  /**
   * Writes the handle of job `id` at `at` and returns where it ends: the replies that
   * carry a handle build it in place, with no string made and encoded per reply.
   */
  write(id: number, target: Buffer, at: number): number {
    const prefix = this.#prefixBytes;
    for (let i = 0; i < prefix.length; i++) target[at + i] = prefix[i] as number;
    const start = at + prefix.length;
    const end = start + digitCount(id);
    let rest = id;
    for (let i = end - 1; i >= start; i--) {
      const digit = rest % 10;
      target[i] = kZero + digit;
      // Exact for integers, and no Math.floor call while this still runs unoptimized.
      rest = (rest - digit) / 10;
    }
    return end;
  }

  /** The job number a handle names, or -1 when it is not one of this server's handles. */
  parse(handle: Uint8Array): number {
    const prefix = this.#prefixBytes;
    const start = prefix.length;
    const length = handle.length - start;
    if (length < 1 || length > 10 || handle[start] === kZero) return -1;
    for (let i = 0; i < start; i++) if (handle[i] !== prefix[i]) return -1;
    let id = 0;
    for (let i = start; i < handle.length; i++) {
      const digit = (handle[i] as number) - kZero;
      if (digit < 0 || digit > 9) return -1;
      id = id * 10 + digit;
    }
    return id <= kMaxCounter ? id : -1;
  }

  /** parse() for a handle held as a latin1 string (admin `cancel job`). */
  parseText(handle: string): number {
    return this.parse(Buffer.from(handle, 'latin1'));
  }
}

/** Decimal digits of a counter value (1 to 2^32 - 1), by comparisons rather than divisions. */
function digitCount(id: number): number {
  if (id < 100_000) return id < 100 ? (id < 10 ? 1 : 2) : id < 1000 ? 3 : id < 10_000 ? 4 : 5;
  if (id < 10_000_000) return id < 1_000_000 ? 6 : 7;
  return id < 100_000_000 ? 8 : id < 1_000_000_000 ? 9 : 10;
}
