import type { Readable } from 'node:stream';

/** One line of the input: its 1-based number in the input (blank lines counted) and its bytes. */
export interface InputLine {
  readonly number: number;
  /**
   * The line without its `\n` (or `\r\n`). A view of the chunk it came in: use it before
   * the next line is read (the client copies it into the frame it sends).
   */
  readonly payload: Buffer;
}

export interface LineReaderOptions {
  /** Yield blank lines as empty payloads; skipped otherwise. @defaultValue false */
  readonly keepEmpty?: boolean;
  /** A longer line throws LineTooLongError rather than being collected without end. */
  readonly maxLineBytes: number;
}

/** A line longer than the reader's maxLineBytes (a binary file, or one with no newlines). */
export class LineTooLongError extends Error {
  readonly line: number;
  constructor(line: number, limit: number) {
    super(`line ${line} is longer than ${limit} bytes`);
    this.name = 'LineTooLongError';
    this.line = line;
  }
}

const kNewline = 0x0a;
const kReturn = 0x0d;
const kEmpty = Buffer.alloc(0);

/**
 * Splits a byte stream into lines as it is read, holding one chunk (plus the start of a
 * line that spans chunks) at a time: the stream is pulled through async iteration, so
 * it stays paused while the consumer does not ask for the next line. A line inside one
 * chunk is a view of it; one that spans chunks is concatenated once.
 */
export class LineReader implements AsyncIterable<InputLine> {
  readonly #stream: Readable;
  readonly #keepEmpty: boolean;
  readonly #maxLineBytes: number;
  #position = 0;
  #lines = 0;

  constructor(stream: Readable, options: LineReaderOptions) {
    this.#stream = stream;
    this.#keepEmpty = options.keepEmpty ?? false;
    this.#maxLineBytes = options.maxLineBytes;
  }

  /** Bytes of input up to the end of the last line yielded (for progress estimates). */
  get position(): number {
    return this.#position;
  }

  /** Lines read so far, blank ones included. */
  get lines(): number {
    return this.#lines;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<InputLine> {
    let parts: Buffer[] = [];
    let partBytes = 0;
    for await (const data of this.#stream) {
      const chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
      let start = 0;
      for (;;) {
        const end = chunk.indexOf(kNewline, start);
        if (end === -1) break;
        let line = chunk.subarray(start, end);
        if (parts.length > 0) {
          parts.push(line);
          line = Buffer.concat(parts, partBytes + line.length);
          parts = [];
          partBytes = 0;
        }
        this.#position += end + 1 - start;
        start = end + 1;
        const out = this.#line(line);
        if (out !== null) yield out;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        partBytes += rest.length;
        if (partBytes > this.#maxLineBytes) throw new LineTooLongError(this.#lines + 1, this.#maxLineBytes);
        // A copy: the stream may reuse the chunk's memory once it is handed back.
        parts.push(Buffer.from(rest));
        this.#position += rest.length;
      }
    }
    // The last line, when the input does not end with a newline.
    if (parts.length > 0) {
      const out = this.#line(Buffer.concat(parts, partBytes));
      if (out !== null) yield out;
    }
  }

  #line(raw: Buffer): InputLine | null {
    this.#lines++;
    if (raw.length > this.#maxLineBytes) throw new LineTooLongError(this.#lines, this.#maxLineBytes);
    const payload = raw.length > 0 && raw[raw.length - 1] === kReturn ? raw.subarray(0, -1) : raw;
    if (payload.length === 0 && !this.#keepEmpty) return null;
    return { number: this.#lines, payload: payload.length === 0 ? kEmpty : payload };
  }
}
