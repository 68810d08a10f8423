import type { Logger } from '../../log.js';

/** Lines of one stream of one handler process logged per second; past it they are dropped and counted. */
export const kLinesPerSecond = 100;
/** Bytes of one stream of one handler process logged per second. */
export const kBytesPerSecond = 64 * 1024;
/** A longer line is cut here (the rest is counted as dropped). */
export const kMaxLineBytes = 8 * 1024;
const kWindowMs = 1_000;

export interface OutputDrop {
  readonly stream: 'stdout' | 'stderr';
  readonly bytes: number;
  readonly lines: number;
}

/**
 * One stream (stdout or stderr) of a handler process, turned into supervisor log
 * lines. The supervisor always reads the pipe, so a handler that writes in a loop never
 * blocks and never fills memory here; what passes the bound (lines and bytes per
 * second) is dropped, and each second that dropped some logs one warning with the count.
 */
export class OutputLines {
  readonly #log: Logger;
  readonly #stream: 'stdout' | 'stderr';
  readonly #dropped: (drop: OutputDrop) => void;
  #partial = '';
  #windowStart = 0;
  #lines = 0;
  #bytes = 0;
  #droppedLines = 0;
  #droppedBytes = 0;
  /** Reports a flood at the end of its second, even if the process says nothing more. */
  #reportTimer: NodeJS.Timeout | null = null;

  constructor(log: Logger, stream: 'stdout' | 'stderr', dropped: (drop: OutputDrop) => void) {
    this.#log = log;
    this.#stream = stream;
    this.#dropped = dropped;
  }

  push(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop() as string;
    // A line that never ends is still bounded: cut it.
    if (Buffer.byteLength(this.#partial) > kMaxLineBytes) {
      lines.push(this.#partial);
      this.#partial = '';
    }
    for (const line of lines) this.#line(line);
  }

  /** The process has ended: its last line, and the count of what was dropped. */
  end(): void {
    if (this.#partial !== '') this.#line(this.#partial);
    this.#partial = '';
    this.#report();
  }

  #line(line: string): void {
    const now = performance.now();
    if (now - this.#windowStart >= kWindowMs) {
      this.#report();
      this.#windowStart = now;
      this.#lines = 0;
      this.#bytes = 0;
    }
    let size = Buffer.byteLength(line);
    let text = line;
    if (size > kMaxLineBytes) {
      text = Buffer.from(line).subarray(0, kMaxLineBytes).toString('utf8');
      this.#droppedBytes += size - kMaxLineBytes;
      size = kMaxLineBytes;
    }
    if (this.#lines >= kLinesPerSecond || this.#bytes + size > kBytesPerSecond) {
      this.#droppedLines++;
      this.#droppedBytes += size;
      if (this.#reportTimer === null) {
        this.#reportTimer = setTimeout(() => this.#report(), kWindowMs - (now - this.#windowStart));
        this.#reportTimer.unref();
      }
      return;
    }
    this.#lines++;
    this.#bytes += size;
    if (this.#stream === 'stderr') this.#log.warn({ stream: 'stderr' }, text);
    else this.#log.info({ stream: 'stdout' }, text);
  }

  #report(): void {
    if (this.#reportTimer !== null) clearTimeout(this.#reportTimer);
    this.#reportTimer = null;
    if (this.#droppedLines === 0 && this.#droppedBytes === 0) return;
    const drop = { stream: this.#stream, bytes: this.#droppedBytes, lines: this.#droppedLines };
    this.#droppedLines = 0;
    this.#droppedBytes = 0;
    this.#log.warn(
      { stream: drop.stream, droppedLines: drop.lines, droppedBytes: drop.bytes },
      `handler output dropped: ${drop.lines} line(s), ${drop.bytes} bytes of ${drop.stream}, past the ${kLinesPerSecond} lines and ${kBytesPerSecond / 1024} KiB per second a process may log`,
    );
    this.#dropped(drop);
  }
}
