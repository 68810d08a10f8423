import os from 'node:os';
import { MAX_JOB_HANDLE_SIZE } from '../protocol/constants.js';

/** gearmand's default prefix: `H:` and the host name. */
export function defaultJobHandlePrefix(): string {
  return `H:${os.hostname()}`;
}

/**
 * Makes job handles `<prefix>:<n>` with n counting from 1, as gearmand does. Handles are
 * latin1 strings of the prefix's UTF-8 bytes, so they can be map keys for the bytes that
 * come back in WORK_* packets. Like gearmand, the counter restarts with the server.
 */
export class JobHandles {
  readonly #prefix: string;
  #counter = 0;

  constructor(prefix: string) {
    const bytes = Buffer.from(prefix, 'utf8');
    if (bytes.includes(0)) throw new TypeError('jobHandlePrefix must not contain NUL');
    // Leave room for ':' and a 10-digit counter inside the 64-byte handle limit (with its NUL).
    if (bytes.length > MAX_JOB_HANDLE_SIZE - 13) {
      throw new RangeError(`jobHandlePrefix must be at most ${MAX_JOB_HANDLE_SIZE - 13} bytes`);
    }
    this.#prefix = `${bytes.toString('latin1')}:`;
  }

  next(): string {
    // gearmand's counter is a uint32 and wraps; so does this one (after 4 billion jobs).
    this.#counter = this.#counter === 0xffffffff ? 1 : this.#counter + 1;
    return this.#prefix + this.#counter;
  }
}
