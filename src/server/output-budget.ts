/** What the budget needs of a connection. */
export interface OutputHolder {
  /** Bytes handed to the socket and not sent yet, read now. */
  readonly unsentBytes: number;
  /** What the budget last counted for this connection (the budget's own book, kept on the holder to save a map lookup per write). */
  budgeted: number;
  /** Drops the connection for the budget, with one log line saying so. */
  dropForBudget(totalBytes: number, limitBytes: number): void;
}

/**
 * The server-wide bound on output written to sockets and not yet sent. Each connection
 * has its own cap too, but 30 connections that never read, each under that cap, held
 * gigabytes between them (issue 10, item 7). Counting is incremental: a connection
 * reports after each write, so the cost per write is one subtraction. The counts go stale
 * as the kernel takes bytes without telling anyone, and only ever upwards, so when the
 * total passes the limit every connection is measured afresh (O(connections), only then),
 * and only if the fresh total is still over are the connections holding the most
 * destroyed, largest first, until it is not.
 */
export class OutputBudget {
  readonly #limit: number;
  readonly #holders: () => Iterable<OutputHolder>;
  #total = 0;
  #enforcing = false;

  constructor(limitBytes: number, holders: () => Iterable<OutputHolder>) {
    this.#limit = limitBytes;
    this.#holders = holders;
  }

  /** Unsent bytes counted over every connection (an upper bound between measurements). */
  get totalBytes(): number {
    return this.#total;
  }

  /** A connection wrote, or its socket drained: count what it holds now. */
  report(holder: OutputHolder): void {
    const now = holder.unsentBytes;
    this.#total += now - holder.budgeted;
    holder.budgeted = now;
    if (this.#total > this.#limit && !this.#enforcing) this.#enforce();
  }

  /** A connection is gone: what it held no longer counts. */
  release(holder: OutputHolder): void {
    this.#total -= holder.budgeted;
    holder.budgeted = 0;
  }

  #enforce(): void {
    this.#enforcing = true;
    try {
      let total = 0;
      const holding: OutputHolder[] = [];
      for (const holder of this.#holders()) {
        holder.budgeted = holder.unsentBytes;
        total += holder.budgeted;
        if (holder.budgeted > 0) holding.push(holder);
      }
      if (total > this.#limit) {
        holding.sort((a, b) => b.budgeted - a.budgeted);
        for (const holder of holding) {
          if (total <= this.#limit) break;
          const before = total;
          total -= holder.budgeted;
          holder.budgeted = 0;
          holder.dropForBudget(before, this.#limit);
        }
      }
      this.#total = total;
    } finally {
      this.#enforcing = false;
    }
  }
}
