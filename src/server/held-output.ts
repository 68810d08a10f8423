import type { ReplySlot } from './peer.js';

/** A reply whose bytes are not known yet. */
interface Slot {
  frame: Buffer | null;
}

/**
 * A connection's output held behind replies not known yet (a background submit's
 * JOB_CREATED waits for its store write): what is sent after a deferred reply waits
 * behind it, so the peer reads its replies in the order of its requests. The session
 * makes one when a reply is deferred and drops it once everything held is written.
 */
export class HeldOutput {
  readonly #items: Array<Buffer | Slot> = [];
  /** Where the unwritten part starts (a burst of deferred replies is released one by one). */
  #start = 0;

  /** Queues a frame behind the replies still unknown. */
  push(frame: Buffer): void {
    this.#items.push(frame);
  }

  /** Reserves a reply's place; resolving it calls `released`, which should call release(). */
  reserve(released: () => void): ReplySlot {
    const slot: Slot = { frame: null };
    this.#items.push(slot);
    return {
      resolve: (frame) => {
        slot.frame = frame;
        released();
      },
    };
  }

  /** Writes what is held up to the first reply still unknown; true once nothing is held. */
  release(write: (frame: Buffer) => void): boolean {
    const items = this.#items;
    let i = this.#start;
    for (; i < items.length; i++) {
      const item = items[i] as Buffer | Slot;
      if (Buffer.isBuffer(item)) write(item);
      else if (item.frame !== null) write(item.frame);
      else break;
    }
    if (i === items.length) return true;
    if (i > 1024 && i * 2 > items.length) {
      // Compact now and then, not on every release: a burst of 10,000 deferred replies
      // would otherwise cost 10,000 splices.
      items.splice(0, i);
      this.#start = 0;
    } else {
      this.#start = i;
    }
    return false;
  }
}
