import type { Writable } from 'node:stream';
import { type BatchSnapshot, formatDuration, formatRate } from './batch-stats.js';

export interface ProgressOptions {
  /** A terminal: one line redrawn in place; otherwise a plain line now and then. */
  readonly tty: boolean;
  /** Terminal width, for the bar. @defaultValue 80 */
  readonly columns?: number;
  /** Between plain lines, in milliseconds (ignored on a terminal). */
  readonly intervalMs: number;
  /** Put before each plain line, e.g. `gworker submit: `. */
  readonly prefix: string;
}

/** A terminal is redrawn at most this often: 10 times a second. */
const kRedrawMs = 100;
const kBarWidth = 24;

/**
 * Shows how a batch is going on stderr. On a terminal: one line, redrawn in place at
 * most ten times a second, `[#####.....] 1200/5000  3 failed  812 jobs/s  ETA 5s`; the
 * line is cleared by stop() so the summary takes its place. Elsewhere (a log file, CI):
 * a plain line every `intervalMs`, and nothing for runs shorter than that.
 */
export class Progress {
  readonly #out: Writable;
  readonly #options: ProgressOptions;
  readonly #read: () => BatchSnapshot;
  #timer: NodeJS.Timeout | null = null;
  #drawn = false;

  constructor(out: Writable, read: () => BatchSnapshot, options: ProgressOptions) {
    this.#out = out;
    this.#read = read;
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== null) return;
    const every = this.#options.tty ? kRedrawMs : this.#options.intervalMs;
    this.#timer = setInterval(() => this.#tick(), every);
    this.#timer.unref();
  }

  /** Stops drawing and clears the terminal line. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#drawn && this.#options.tty) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }

  #tick(): void {
    const snap = this.#read();
    if (this.#options.tty) {
      // A pseudo-terminal may report 0 columns: treat that as unknown.
      const columns =
        this.#options.columns !== undefined && this.#options.columns > 0 ? this.#options.columns : 80;
      // Never wider than the terminal: a wrapped line cannot be redrawn with \r.
      this.#out.write(`\r\x1b[2K${terminalLine(snap).slice(0, Math.max(10, columns - 1))}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${this.#options.prefix}${plainLine(snap)}\n`);
    }
  }
}

function counts(snap: BatchSnapshot): string {
  const total = snap.total ?? snap.estimatedTotal;
  if (total === null) return `${snap.finished}`;
  return `${snap.finished}/${snap.total === null ? '~' : ''}${total}`;
}

function eta(snap: BatchSnapshot): string {
  return snap.etaSeconds === null ? 'ETA ?' : `ETA ${formatDuration(snap.etaSeconds)}`;
}

/** `[#####.......] 1200/5000  3 failed  812 jobs/s  ETA 5s`; `1200 done  3 failed ...` without a total. */
export function terminalLine(snap: BatchSnapshot): string {
  const total = snap.total ?? snap.estimatedTotal;
  let bar = '';
  if (total !== null && total > 0) {
    const filled = Math.min(kBarWidth, Math.floor((snap.finished / total) * kBarWidth));
    bar = `[${'#'.repeat(filled)}${'.'.repeat(kBarWidth - filled)}] `;
  }
  const done = total === null ? `${snap.finished} done` : counts(snap);
  return `${bar}${done}  ${snap.failed} failed  ${formatRate(snap.rate)} jobs/s  ${eta(snap)}`;
}

/** `1200/5000 done, 3 failed, 812 jobs/s, ETA 5s` */
export function plainLine(snap: BatchSnapshot): string {
  return `${counts(snap)} done, ${snap.failed} failed, ${formatRate(snap.rate)} jobs/s, ${eta(snap)}`;
}
