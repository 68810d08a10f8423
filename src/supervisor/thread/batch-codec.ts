import { kOwnBufferBytes, transferableCopy } from './bytes.js';
import type { SerializedError } from './messages.js';

/**
 * The wire form of a batch of jobs (main → thread) or of results (thread → main), shaped
 * for postMessage's cost: structured cloning pays per object and per property, so a
 * batch is a few flat parts whatever its size: numbers in one array, texts joined in one
 * string, small byte strings packed together; only large byte strings and errors travel
 * one by one.
 *
 * A batch of a few small entries (the default, jobsPerThread 1, sends one job per
 * message) transfers no ArrayBuffer at all: each transferred buffer costs a backing
 * store, its registration and a malloc on both sides, which cost more than copying
 * a few hundred bytes in a string (measured: ~20% less CPU per job round trip to a
 * thread; issue 13). Past kPackedStringBytes or kPackedStringEntries the packed bytes
 * move in one buffer again.
 */
export interface WireBatch {
  /** Per entry: id, then where its bytes are (see kOwn/kError), then their length. */
  readonly numbers: readonly number[];
  /** Per entry of a job batch: handle NUL unique NUL attempt NUL (none can contain a NUL). */
  readonly text: string;
  /** The small byte strings, back to back: a latin1 string (one char per byte) or a moved buffer. */
  readonly packed: string | ArrayBuffer;
  /** Large byte strings, in the order of the entries that have them. */
  readonly own: readonly Uint8Array[];
  /** Failed results' errors, in the order of the entries that failed. */
  readonly errors: readonly SerializedError[];
}

/** `at` value: the bytes travel in `own`. */
const kOwn = -1;
/** `at` value: the entry is a failure, its error in `errors`. */
const kError = -2;
const kNumbersPerEntry = 3;
/**
 * Up to this many packed bytes travel as a string (copied into and out of it); more
 * move in a transferred buffer, where one copy less outweighs the transfer's cost.
 */
export const kPackedStringBytes = 16 * 1024;
/**
 * ...and only for a batch of this many packed entries at most: a large batch (tuned
 * manifests, jobsPerThread 128) pays one transfer for all its entries, less than a
 * string conversion per entry.
 */
export const kPackedStringEntries = 8;

/** Collects entries, then makes one WireBatch and its transfer list. */
export class BatchWriter {
  #numbers: number[] = [];
  #text: string[] = [];
  #parts: Uint8Array[] = [];
  #packedSize = 0;
  #own: Uint8Array[] = [];
  #errors: SerializedError[] = [];
  #transfer: ArrayBuffer[] = [];

  get size(): number {
    return this.#numbers.length / kNumbersPerEntry;
  }

  /**
   * An entry with bytes. Large bytes that own their buffer are moved (the view here is
   * left empty) when `movable`, else copied once; small ones are copied into the packed buffer.
   */
  add(id: number, bytes: Uint8Array, movable: boolean): void {
    if (bytes.byteLength >= kOwnBufferBytes) {
      const own = movable ? transferableCopy(bytes) : new Uint8Array(bytes);
      this.#own.push(own);
      this.#transfer.push(own.buffer as ArrayBuffer);
      this.#numbers.push(id, kOwn, own.byteLength);
      return;
    }
    this.#numbers.push(id, this.#packedSize, bytes.byteLength);
    this.#parts.push(bytes);
    this.#packedSize += bytes.byteLength;
  }

  /** A job entry: its bytes are the payload, plus its handle, unique and attempt. */
  addJob(
    id: number,
    handle: string,
    unique: string,
    attempt: number,
    payload: Uint8Array,
    movable: boolean,
  ): void {
    this.add(id, payload, movable);
    this.#text.push(handle, unique, String(attempt));
  }

  /** A failed result. */
  addError(id: number, error: SerializedError): void {
    this.#numbers.push(id, kError, 0);
    this.#errors.push(error);
  }

  finish(): { batch: WireBatch; transfer: ArrayBuffer[] } {
    const small = this.#packedSize <= kPackedStringBytes && this.#parts.length <= kPackedStringEntries;
    const packed = small ? latin1Of(this.#parts) : joined(this.#parts, this.#packedSize).buffer;
    const batch: WireBatch = {
      numbers: this.#numbers,
      text: this.#text.length === 0 ? '' : `${this.#text.join('\0')}\0`,
      packed,
      own: this.#own,
      errors: this.#errors,
    };
    const transfer = small ? this.#transfer : [...this.#transfer, packed as ArrayBuffer];
    return { batch, transfer };
  }
}

function joined(parts: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.byteLength;
  }
  return all;
}

/** The parts' bytes as one latin1 string (byte n is char code n). */
function latin1Of(parts: readonly Uint8Array[]): string {
  if (parts.length === 1) return latin1(parts[0] as Uint8Array);
  let text = '';
  for (const part of parts) text += latin1(part);
  return text;
}

function latin1(bytes: Uint8Array): string {
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.toString('latin1');
}

const kTextsPerJob = 3;

/**
 * Calls `visit` for each entry, in order, with its id, its bytes (or error), and for job
 * batches its handle, unique and attempt.
 */
export function readBatch(
  batch: WireBatch,
  visit: (
    id: number,
    bytes: Buffer | null,
    error: SerializedError | null,
    handle: string,
    unique: string,
    attempt: number,
  ) => void,
): void {
  const { numbers } = batch;
  const packed =
    typeof batch.packed === 'string' ? Buffer.from(batch.packed, 'latin1') : Buffer.from(batch.packed);
  const texts = batch.text === '' ? null : batch.text.split('\0');
  let own = 0;
  let error = 0;
  for (let i = 0, entry = 0; i < numbers.length; i += kNumbersPerEntry, entry++) {
    const id = numbers[i] as number;
    const at = numbers[i + 1] as number;
    const length = numbers[i + 2] as number;
    const handle = texts === null ? '' : (texts[entry * kTextsPerJob] as string);
    const unique = texts === null ? '' : (texts[entry * kTextsPerJob + 1] as string);
    const attempt = texts === null ? 1 : Number(texts[entry * kTextsPerJob + 2]);
    if (at === kError) {
      visit(id, null, batch.errors[error++] as SerializedError, handle, unique, attempt);
    } else if (at === kOwn) {
      const bytes = batch.own[own++] as Uint8Array;
      visit(id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), null, handle, unique, attempt);
    } else {
      visit(id, packed.subarray(at, at + length), null, handle, unique, attempt);
    }
  }
}
