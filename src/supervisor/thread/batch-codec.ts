import { kOwnBufferBytes, transferableCopy } from './bytes.js';
import type { SerializedError } from './messages.js';

/**
 * The wire form of a batch of jobs (main → thread) or of results (thread → main), shaped
 * for postMessage's cost: structured cloning pays per object and per property, so a
 * batch is a few flat parts whatever its size: numbers in one Float64Array, texts joined
 * in one string, small byte strings packed in one buffer; only large byte strings and
 * errors travel one by one.
 */
export interface WireBatch {
  /** Per entry: id, then where its bytes are (see kOwn/kError), then their length. */
  readonly numbers: Float64Array;
  /** Per entry of a job batch: handle NUL unique NUL attempt NUL (none can contain a NUL). */
  readonly text: string;
  readonly packed: ArrayBuffer;
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
    const packed = new Uint8Array(this.#packedSize);
    let at = 0;
    for (const part of this.#parts) {
      packed.set(part, at);
      at += part.byteLength;
    }
    const numbers = new Float64Array(this.#numbers);
    const batch: WireBatch = {
      numbers,
      text: this.#text.length === 0 ? '' : `${this.#text.join('\0')}\0`,
      packed: packed.buffer,
      own: this.#own,
      errors: this.#errors,
    };
    return { batch, transfer: [...this.#transfer, packed.buffer, numbers.buffer] };
  }
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
  const { numbers, packed } = batch;
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
      visit(id, Buffer.from(packed, at, length), null, handle, unique, attempt);
    }
  }
}
