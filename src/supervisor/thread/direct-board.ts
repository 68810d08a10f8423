/**
 * The shared board of a `dispatch: thread` function (supervisor/direct/): one slot per
 * job a thread may run at once, written by the thread as a job starts and ends, read by
 * the main thread only when it needs to (a thread died: which jobs did it hold? a
 * timeout's watchdog: since when?). No message crosses per job on the hot path.
 *
 * Per slot: the job's start (Date.now(), 0 when free), a 32-bit hash of its handle (to
 * spot a job a dead thread held, re-offered by the job server), and the handle's bytes.
 */
const kHandleBytes = 64;

export class DirectBoard {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly #starts: Float64Array;
  readonly #hashes: Int32Array;
  readonly #lengths: Int32Array;
  readonly #handles: Uint8Array;

  constructor(slotsOrBuffer: number | SharedArrayBuffer) {
    const slots =
      typeof slotsOrBuffer === 'number' ? slotsOrBuffer : slotsOrBuffer.byteLength / (16 + kHandleBytes);
    this.slots = slots;
    this.buffer =
      typeof slotsOrBuffer === 'number' ? new SharedArrayBuffer(slots * (16 + kHandleBytes)) : slotsOrBuffer;
    this.#starts = new Float64Array(this.buffer, 0, slots);
    this.#hashes = new Int32Array(this.buffer, slots * 8, slots);
    this.#lengths = new Int32Array(this.buffer, slots * 12, slots);
    this.#handles = new Uint8Array(this.buffer, slots * 16, slots * kHandleBytes);
  }

  /** A job started in `slot` (the thread's own). */
  take(slot: number, handle: string, hash: number): void {
    const written = Buffer.from(
      this.#handles.buffer,
      this.#handles.byteOffset + slot * kHandleBytes,
      kHandleBytes,
    ).write(handle, 'latin1');
    this.#lengths[slot] = written;
    this.#hashes[slot] = hash;
    this.#starts[slot] = Date.now();
  }

  free(slot: number): void {
    this.#starts[slot] = 0;
  }

  /** When the job in `slot` started (Date.now()), 0 when the slot is free. */
  startedAt(slot: number): number {
    return this.#starts[slot] as number;
  }

  handle(slot: number): string {
    const length = this.#lengths[slot] as number;
    return Buffer.from(this.#handles.buffer, this.#handles.byteOffset + slot * kHandleBytes, length).toString(
      'latin1',
    );
  }

  /** The busy slot outside [from, to) holding a job with this handle, or -1. */
  heldElsewhere(handle: string, hash: number, from: number, to: number): number {
    const hashes = this.#hashes;
    const starts = this.#starts;
    for (let slot = 0; slot < this.slots; slot++) {
      if (slot >= from && slot < to) continue;
      if (hashes[slot] === hash && starts[slot] !== 0 && this.handle(slot) === handle) return slot;
    }
    return -1;
  }

  /** Jobs running now in slots [from, to) (every slot by default). */
  running(from = 0, to = this.slots): number {
    let running = 0;
    for (let slot = from; slot < to; slot++) if (this.#starts[slot] !== 0) running++;
    return running;
  }
}

/** FNV-1a over the handle's char codes (handles are ASCII). */
export function handleHash(handle: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < handle.length; i++) {
    hash ^= handle.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
