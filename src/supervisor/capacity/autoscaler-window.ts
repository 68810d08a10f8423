/** How the autoscaler reads a function's samples. */
export interface AutoscaleTuning {
  /** Samples in a row with jobs waiting at the job servers before it scales up. @defaultValue 2 */
  readonly upSamples: number;
  /** Shortest time between two changes up (the last one must take effect first). */
  readonly upCooldownMs: number;
  /** How long slots must sit idle, with nothing waiting, before it scales down. @defaultValue 30000 */
  readonly downAfterMs: number;
}

/** One sample of a function, as the controller hands it over. */
export interface FunctionSample {
  readonly min: number;
  readonly max: number;
  /** Slots now. */
  readonly current: number;
  /** Jobs held by its slots now (the SlotGate's running count). */
  readonly running: number;
  /** Jobs of the function waiting at the job servers; null when no server answered. */
  readonly queued: number | null;
  /** Whether the box has room for more slots of it (the box budget). */
  readonly hasRoom: boolean;
}

export interface ScaleDecision {
  readonly to: number;
  readonly why: string;
}

/**
 * What one autoscaled function has seen lately, and the rule that turns it into a
 * change: up fast (jobs waiting in `upSamples` samples in a row, or in one when more
 * wait than the function has slots: to current + waiting,
 * at most max), down slow (a whole `downAfterMs` with nothing waiting and some slots
 * never busy: to the most that were busy, at least min). The gap between the two rules
 * is the hysteresis: a load at the edge keeps its slots busy now and then, so it never
 * looks idle for a whole window, and it rarely has jobs waiting twice in a row. After a
 * change the idle window starts again (the cool-down), and the next change up waits
 * `upCooldownMs`, so the new slots show in the queue first.
 */
export class AutoscaleWindow {
  readonly #tuning: AutoscaleTuning;
  #waitingStreak = 0;
  #idleSince: number;
  #peakRunning = 0;
  #changedAt = Number.NEGATIVE_INFINITY;
  /** The last sample called for more slots and only the box's lack of room held it back. */
  #wantsRoom = false;

  constructor(tuning: AutoscaleTuning, now: number) {
    this.#tuning = tuning;
    this.#idleSince = now;
  }

  get wantsRoom(): boolean {
    return this.#wantsRoom;
  }

  /** Takes one sample; returns the change it calls for, if any. */
  observe(sample: FunctionSample, now: number): ScaleDecision | null {
    const { queued, current, running, min, max } = sample;
    this.#wantsRoom = false;
    if (current < min) return this.#changed(now, running, { to: min, why: `below min ${min}` });
    if (current > max) return this.#changed(now, running, { to: max, why: `above max ${max}` });
    // No server answered: hold, and do not count this as idle time.
    if (queued === null) {
      this.#waitingStreak = 0;
      this.#restartIdle(now, running);
      return null;
    }
    if (queued > 0) {
      this.#waitingStreak++;
      this.#restartIdle(now, running);
      const cooled = now - this.#changedAt >= this.#tuning.upCooldownMs;
      // A backlog bigger than the slots is no blip: one sample is enough for it.
      const needed = queued > current ? 1 : this.#tuning.upSamples;
      if (this.#waitingStreak < needed || current >= max || !cooled) return null;
      if (!sample.hasRoom) {
        this.#wantsRoom = true;
        return null;
      }
      const to = Math.min(max, current + queued);
      return this.#changed(now, running, {
        to,
        why:
          this.#waitingStreak === 1
            ? `${queued} job(s) waiting at the job servers, more than its ${current} slot(s)`
            : `${queued} job(s) waiting at the job servers in ${this.#waitingStreak} samples in a row`,
      });
    }
    this.#waitingStreak = 0;
    this.#peakRunning = Math.max(this.#peakRunning, running);
    if (now - this.#idleSince < this.#tuning.downAfterMs) return null;
    const peak = this.#peakRunning;
    if (current <= min || peak >= current) {
      this.#restartIdle(now, running);
      return null;
    }
    const to = Math.max(min, peak);
    return this.#changed(now, running, {
      to,
      why: `at most ${peak} of ${current} slot(s) busy and no job waiting for ${seconds(this.#tuning.downAfterMs)}`,
    });
  }

  /**
   * Another function waits for room on the box: slots of this one that are idle now, with
   * nothing of it waiting, go at once rather than after a whole idle window.
   */
  reclaim(sample: FunctionSample, now: number, waiting: readonly string[]): ScaleDecision | null {
    const to = Math.max(sample.min, sample.running);
    if (sample.queued !== 0 || to >= sample.current) return null;
    return this.#changed(now, sample.running, {
      to,
      why: `idle slots given back: ${waiting.join(', ')} wait(s) for room on the box`,
    });
  }

  #restartIdle(now: number, running: number): void {
    this.#idleSince = now;
    this.#peakRunning = running;
  }

  #changed(now: number, running: number, decision: ScaleDecision): ScaleDecision {
    this.#changedAt = now;
    this.#waitingStreak = 0;
    this.#restartIdle(now, running);
    return decision;
  }
}

/** `30s`, `1.5s`, `600ms`: the idle window in a reason. */
function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
