/** What the box as a whole may hold at once. */
export interface BoxLimits {
  /** Jobs held at once by all functions together; Infinity when the manifest sets none. */
  readonly slots: number;
  /** Jobs held at once by the CPU-bound functions (`cpu: true`) together. */
  readonly cpuSlots: number;
}

/** How a function draws on the box. */
export interface ShareOptions {
  /** Its fair share when functions compete for slots: running / weight decides. */
  readonly weight: number;
  /** Counts against the CPU slots as well as the box's. */
  readonly cpu: boolean;
}

/**
 * One function's part of the box, held by its SlotGate. `held` counts the same way as
 * the gate's own slots: a grab's reservation from tryReserve, which becomes the job
 * in the same step when its answer brings one (SlotGate.release), until the job ends.
 */
export class BoxShare {
  readonly name: string;
  weight: number;
  cpu: boolean;
  /** Reservations and jobs held now. */
  held = 0;
  /** Grabs the box refused this function (it was full, or memory was over). */
  refusals = 0;
  readonly #budget: BoxBudget;
  readonly #wake: () => void;

  constructor(budget: BoxBudget, name: string, options: ShareOptions, wake: () => void) {
    this.#budget = budget;
    this.name = name;
    this.weight = options.weight;
    this.cpu = options.cpu;
    this.#wake = wake;
  }

  /** May one more grab go out? A yes reserves a box slot (and a CPU slot when `cpu`). */
  tryReserve(): boolean {
    return this.#budget.tryReserve(this);
  }

  /** A job came with no grab asking for it (a server that assigns unasked): it is held all the same. */
  takeUnasked(): void {
    this.#budget.take(this);
  }

  /** The grab's answer brought no job: its box slot is free again. */
  releaseEmpty(): void {
    this.#budget.free(this);
  }

  /** A job this share held has ended. */
  jobEnded(): void {
    this.#budget.free(this);
  }

  /** The box has a slot for this function: its connections grab again, now (synchronously). */
  wake(): void {
    this.#wake();
  }
}

/**
 * The box's slots, shared by every function on top of each one's own concurrency: a
 * grab needs a free slot of its function (SlotGate) AND of the box, and a CPU-bound
 * function's also a free CPU slot.
 *
 * Fairness: a function the box refused while its own slots had room is "wanting" (its
 * connection is awake: it sent no PRE_SLEEP, its server said there is work, and it waits
 * for a refill). When a slot frees, the wanting function with the lowest held / weight
 * gets it (ties: the one that has waited longest), and a grab from anyone else is
 * refused meanwhile if a wanting function that could take the slot is further below
 * its share. Over time each busy function holds slots in proportion to its weight: a
 * weighted fair share of slots held at once (like max-min fair queuing or the Linux
 * scheduler's lowest-vruntime rule), deterministic, and a function with jobs is never
 * starved. Sidekiq's weighted queues instead pick the next queue at random in
 * proportion to weight (fair only on average, per fetch, not per slot held), and
 * BullMQ's priorities are strict (a lower priority waits while any higher one has jobs).
 * Weights share slots, not throughput: a function whose jobs take twice as long gets
 * half the jobs per second at the same weight.
 */
export class BoxBudget {
  #limits: BoxLimits;
  #used = 0;
  #cpuUsed = 0;
  /** Refused while its own slots had room, in the order they asked: wait order breaks ties. */
  readonly #wanting = new Set<BoxShare>();
  readonly #shares = new Set<BoxShare>();
  #memoryHeld = false;
  #dispatchScheduled = false;

  constructor(limits: BoxLimits) {
    this.#limits = limits;
  }

  get limits(): BoxLimits {
    return this.#limits;
  }

  /** Slots held now by all functions (reservations on the wire included). */
  get used(): number {
    return this.#used;
  }

  get cpuUsed(): number {
    return this.#cpuUsed;
  }

  /** Functions waiting for a box slot now. */
  get wanting(): number {
    return this.#wanting.size;
  }

  /** While true (memory over box.memoryMb), no function grabs; running jobs go on. */
  get memoryHeld(): boolean {
    return this.#memoryHeld;
  }

  share(name: string, options: ShareOptions, wake: () => void): BoxShare {
    const share = new BoxShare(this, name, options, wake);
    this.#shares.add(share);
    return share;
  }

  /** A function left: what it still held is freed (its jobs ended or were given up). */
  remove(share: BoxShare): void {
    if (!this.#shares.delete(share)) return;
    this.#wanting.delete(share);
    this.#used = Math.max(0, this.#used - share.held);
    if (share.cpu) this.#cpuUsed = Math.max(0, this.#cpuUsed - share.held);
    share.held = 0;
    this.#freed();
  }

  /** New limits apply at once to new grabs; nothing running is stopped. */
  setLimits(limits: BoxLimits): void {
    this.#limits = limits;
    this.#freed();
  }

  /** A function's weight or CPU marking changed (a reload). */
  updateShare(share: BoxShare, options: ShareOptions): void {
    if (share.cpu !== options.cpu) this.#cpuUsed += options.cpu ? share.held : -share.held;
    share.weight = options.weight;
    share.cpu = options.cpu;
    this.#freed();
  }

  holdForMemory(held: boolean): void {
    if (this.#memoryHeld === held) return;
    this.#memoryHeld = held;
    if (!held) this.#freed();
  }

  /** Whether a grab of a function of this kind could take a slot now (the autoscaler's question). */
  hasRoom(cpu: boolean): boolean {
    return (
      !this.#memoryHeld && this.#used < this.#limits.slots && (!cpu || this.#cpuUsed < this.#limits.cpuSlots)
    );
  }

  tryReserve(share: BoxShare): boolean {
    if (this.#memoryHeld || !this.#fits(share) || this.#someoneAhead(share)) {
      share.refusals++;
      this.#wanting.add(share);
      return false;
    }
    this.take(share);
    return true;
  }

  take(share: BoxShare): void {
    share.held++;
    this.#used++;
    if (share.cpu) this.#cpuUsed++;
  }

  free(share: BoxShare): void {
    if (share.held === 0 || !this.#shares.has(share)) return;
    share.held--;
    this.#used--;
    if (share.cpu) this.#cpuUsed--;
    this.#freed();
  }

  #fits(share: BoxShare): boolean {
    return this.#used < this.#limits.slots && (!share.cpu || this.#cpuUsed < this.#limits.cpuSlots);
  }

  /**
   * A wanting function further below its share that has a slot now and would have none
   * left once `share` took one (so a grab that only uses room nobody waits for goes).
   */
  #someoneAhead(share: BoxShare): boolean {
    if (this.#wanting.size === 0) return false;
    const mine = share.held / share.weight;
    const { slots, cpuSlots } = this.#limits;
    const boxAfter = this.#used + 1 < slots;
    const cpuAfter = this.#cpuUsed + (share.cpu ? 1 : 0) < cpuSlots;
    for (const other of this.#wanting) {
      if (other === share || other.held / other.weight >= mine || !this.#fits(other)) continue;
      if (!boxAfter || (other.cpu && !cpuAfter)) return true;
    }
    return false;
  }

  /**
   * Slots may have freed: hand them out once this turn of the event loop is through.
   * The connection whose job ended grabs behind its result a few promise reactions
   * later, and asks first: it is refused if a wanting function is further below its
   * share, else it keeps the slot. Handing the slot out any sooner (a microtask) could
   * give it to whoever was wanting, further below its share or not.
   */
  #freed(): void {
    if (this.#wanting.size === 0 || this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    setImmediate(this.#dispatch);
  }

  /**
   * Wakes wanting functions, lowest held / weight first, while slots are free. A woken
   * function's connections ask again at once: each grant takes a slot, and a refusal
   * puts the function back among the wanting. One that asks nothing (its connections
   * went to sleep or down meanwhile) just leaves the set.
   */
  readonly #dispatch = (): void => {
    this.#dispatchScheduled = false;
    for (let rounds = 2 * this.#wanting.size + 2; rounds > 0 && !this.#memoryHeld; rounds--) {
      const next = this.#nextWanting();
      if (next === undefined) return;
      this.#wanting.delete(next);
      next.wake();
    }
  };

  #nextWanting(): BoxShare | undefined {
    let best: BoxShare | undefined;
    for (const share of this.#wanting) {
      if (!this.#fits(share)) continue;
      if (best === undefined || share.held / share.weight < best.held / best.weight) best = share;
    }
    return best;
  }
}
