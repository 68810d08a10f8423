import type { Logger } from '../log.js';

const kWindowMs = 1000;

/**
 * One warning per burst of the same event: the first is logged at once, the others in
 * the next second are counted, and one line with the count follows when that second
 * ends (and again for each second the burst goes on). A flood of bad connections costs a
 * few log lines, not one per socket, and no count is lost.
 */
export class BurstLog {
  readonly #log: Logger;
  readonly #message: string;
  readonly #summary: string;
  #windowOpen = false;
  #count = 0;
  readonly #closeWindow = (): void => {
    if (this.#count === 0) {
      this.#windowOpen = false;
      return;
    }
    this.#log.warn({ count: this.#count, withinMs: kWindowMs }, this.#summary);
    this.#count = 0;
    setTimeout(this.#closeWindow, kWindowMs).unref();
  };

  /** `message` for the first event of a burst; `summary` for the line counting the rest. */
  constructor(log: Logger, message: string, summary: string) {
    this.#log = log;
    this.#message = message;
    this.#summary = summary;
  }

  note(fields: Record<string, unknown>): void {
    if (this.#windowOpen) {
      this.#count++;
      return;
    }
    this.#windowOpen = true;
    this.#log.warn(fields, this.#message);
    setTimeout(this.#closeWindow, kWindowMs).unref();
  }
}
