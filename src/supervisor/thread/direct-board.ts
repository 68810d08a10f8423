/**
 * The shared board of a `dispatch: thread` function (supervisor/direct/): one slot per
 * job a thread may run at once, written by the thread as a job starts and ends, read by
 * the main thread only when it needs to (a thread died: which jobs did it hold? a
 * timeout's watchdog: since when?). No message crosses per job on the hot path.
 *
 * Per slot, 80 bytes in a row: the job's start (Date.now(), 0 when free), a 32-bit hash
 * of its handle (to spot a job a dead thread held, re-offered by the job server), the
 * handle's length and its bytes. The buffer is a growable SharedArrayBuffer: adding
 * threads in place (`gworker scale`) grows it, and every thread's views, which track its
 * length, see the new slots without a message.
 */
const kHandleBytes = 64;
const kSlotBytes = 16 + kHandleBytes;

/** ES2024's growable SharedArrayBuffer (Node 20's V8 has it; TypeScript's ES2023 lib does not). */
interface GrowableBuffer extends SharedArrayBuffer {
  grow(byteLength: number): void;
  readonly maxByteLength: number;
}
const GrowableSharedArrayBuffer = SharedArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => GrowableBuffer;

export class DirectBoard {
  readonly buffer: SharedArrayBuffer;
  /** Views that track the buffer's length: slot s's start is at [s * 10]. */
  readonly #starts: Float64Array;
  /** Slot s's hash at [s * 20 + 2], its handle's length at [s * 20 + 3]. */
  readonly #ints: Int32Array;
  readonly #bytes: Uint8Array;

  /**
   * A new board of `slots` slots that can grow to `maxSlots`, or (given a buffer) the
   * view of the board another thread made.
   */
  constructor(slotsOrBuffer: number | SharedArrayBuffer, maxSlots = 0) {
    this.buffer =
      typeof slotsOrBuffer === 'number'
        ? new GrowableSharedArrayBuffer(slotsOrBuffer * kSlotBytes, {
            maxByteLength: Math.max(slotsOrBuffer, maxSlots) * kSlotBytes,
          })
        : slotsOrBuffer;
    this.#starts = new Float64Array(this.buffer);
    this.#ints = new Int32Array(this.buffer);
    this.#bytes = new Uint8Array(this.buffer);
  }

  /** Slots now (the board grows as threads are added). */
  get slots(): number {
    return this.buffer.byteLength / kSlotBytes;
  }

  /** Most slots it can grow to. */
  get maxSlots(): number {
    return (this.buffer as GrowableBuffer).maxByteLength / kSlotBytes;
  }

  /** Room for `slots` slots at least (new ones are free); never shrinks. */
  grow(slots: number): void {
    if (slots > this.slots) (this.buffer as GrowableBuffer).grow(slots * kSlotBytes);
  }

  /** A job started in `slot` (the thread's own). */
  take(slot: number, handle: string, hash: number): void {
    const at = slot * kSlotBytes + 16;
    const written = Buffer.from(this.buffer, at, kHandleBytes).write(handle, 'latin1');
    this.#ints[slot * 20 + 3] = written;
    this.#ints[slot * 20 + 2] = hash;
    this.#starts[slot * 10] = Date.now();
  }

  free(slot: number): void {
    this.#starts[slot * 10] = 0;
  }

  /** When the job in `slot` started (Date.now()), 0 when the slot is free. */
  startedAt(slot: number): number {
    return this.#starts[slot * 10] as number;
  }

  handle(slot: number): string {
    const length = this.#ints[slot * 20 + 3] as number;
    const at = slot * kSlotBytes + 16;
    return Buffer.from(this.#bytes.buffer, at, length).toString('latin1');
  }

  /** The busy slot outside [from, to) holding a job with this handle, or -1. */
  heldElsewhere(handle: string, hash: number, from: number, to: number): number {
    const ints = this.#ints;
    const starts = this.#starts;
    const slots = this.slots;
    for (let slot = 0; slot < slots; slot++) {
      if (slot >= from && slot < to) continue;
      if (ints[slot * 20 + 2] === hash && starts[slot * 10] !== 0 && this.handle(slot) === handle)
        return slot;
    }
    return -1;
  }

  /** Jobs running now in slots [from, to) (every slot by default). */
  running(from = 0, to = this.slots): number {
    let running = 0;
    for (let slot = from; slot < to; slot++) if (this.#starts[slot * 10] !== 0) running++;
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
