/**
 * A counting semaphore for one producer: at most `size` slots are held at once. The
 * producer awaits acquire() before starting a job; the job's slot is released when its
 * outcome has been written, so jobs in flight plus outcomes waiting to be written never
 * exceed the window.
 */
export class Window {
  readonly size: number;
  #inUse = 0;
  #waiter: (() => void) | null = null;
  #idle: (() => void) | null = null;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`window must be a positive integer, got ${size}`);
    this.size = size;
  }

  get inUse(): number {
    return this.#inUse;
  }

  /** Takes a slot: undefined when one was free, else a promise that resolves with it. */
  acquire(): Promise<void> | undefined {
    if (this.#inUse < this.size) {
      this.#inUse++;
      return undefined;
    }
    if (this.#waiter !== null) throw new Error('Window has one producer: acquire() is already waiting');
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  release(): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      // The slot passes straight to the waiting producer.
      this.#waiter = null;
      waiter();
      return;
    }
    this.#inUse--;
    if (this.#inUse === 0 && this.#idle !== null) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }

  /** Resolves once every slot is free. */
  idle(): Promise<void> {
    if (this.#inUse === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }
}
