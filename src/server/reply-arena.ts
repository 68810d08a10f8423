/** Size of each shared buffer: ~1,800 JOB_CREATED replies. */
const kArenaSize = 64 * 1024;

/**
 * Where small replies are built: one buffer shared by every connection (the server has
 * one thread), filled front to back and replaced when full, as Node's own Buffer pool.
 * A pipelined background submit answers with a ~36-byte JOB_CREATED; building each in
 * its own Buffer (a JS object per reply) and joining them again at the end of the tick
 * was a quarter of the server's steady-state CPU per submit (0.2 of 0.8 us). Here a
 * reply is bytes written at `used`, and a connection hands its socket one view of its
 * consecutive replies (see ReplyRun).
 */
class ReplyArena {
  buffer = Buffer.allocUnsafeSlow(kArenaSize);
  used = 0;

  /** Makes room for `size` bytes at `used` (a fresh buffer when this one is too full). */
  reserve(size: number): void {
    if (kArenaSize - this.used >= size) return;
    this.buffer = Buffer.allocUnsafeSlow(Math.max(kArenaSize, size));
    this.used = 0;
  }
}

const kArena = new ReplyArena();

/**
 * One connection's replies in the shared arena not yet handed to its socket: the bytes
 * `[start, end)` of `buffer`. They stay one run while nobody else writes into the arena
 * in between; otherwise the run is handed over first.
 */
export class ReplyRun {
  #buffer: Buffer | null = null;
  #start = 0;
  #end = 0;
  readonly #flush: (bytes: Buffer) => void;

  /** `flush` gets each finished run, in order, as a view of the arena. */
  constructor(flush: (bytes: Buffer) => void) {
    this.#flush = flush;
  }

  /** True while replies wait here (a frame written otherwise must go after them: take() first). */
  get pending(): boolean {
    return this.#end > this.#start;
  }

  /**
   * Reserves `size` bytes at the end of this run and returns the offset in `buffer` to
   * write them at; the caller fills exactly `size` bytes before anything else runs.
   */
  append(size: number): number {
    const arena = kArena;
    arena.reserve(size);
    if (this.#buffer !== arena.buffer || this.#end !== arena.used) {
      this.take();
      this.#buffer = arena.buffer;
      this.#start = arena.used;
      this.#end = arena.used;
    }
    const at = this.#end;
    this.#end += size;
    arena.used += size;
    return at;
  }

  /** The buffer append() returned an offset into. */
  get buffer(): Buffer {
    return this.#buffer as Buffer;
  }

  /** Hands the waiting replies to `flush`. */
  take(): void {
    if (this.#end === this.#start) return;
    const bytes = (this.#buffer as Buffer).subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#flush(bytes);
  }

  /** Forgets the waiting replies (the connection is gone). */
  discard(): void {
    this.#start = this.#end;
  }
}
