/**
 * Watches the main thread's event loop for stalls: a timer that should fire every
 * `intervalMs` measures how late it fires. Sockets, grabs, results and the control API all
 * run on this one loop (handlers run in threads), so a loop that stalls for seconds holds
 * up every job of the box; /healthz, /readyz and the systemd watchdog report it.
 */
export interface LoopMonitorOptions {
  /** A stall at least this long makes the loop unhealthy. @defaultValue 5000 */
  readonly stallMs?: number;
  /** ...for this long after it ended. @defaultValue 15000 */
  readonly windowMs?: number;
  /** How often the timer fires. @defaultValue 500 */
  readonly intervalMs?: number;
}

export interface LoopHealth {
  readonly healthy: boolean;
  /** The longest stall seen in the window, in milliseconds (0 when none). */
  readonly worstStallMs: number;
  /** How long ago that stall ended, in milliseconds (null when none). */
  readonly stallAgoMs: number | null;
}

export class LoopMonitor {
  readonly #stallMs: number;
  readonly #windowMs: number;
  readonly #intervalMs: number;
  readonly #timer: NodeJS.Timeout;
  #lastTick = performance.now();
  /** Stalls of at least `stallMs`, newest last: [ended at, length]. */
  #stalls: Array<[endedAt: number, lengthMs: number]> = [];

  constructor(options: LoopMonitorOptions = {}) {
    this.#stallMs = options.stallMs ?? 5000;
    this.#windowMs = options.windowMs ?? 15_000;
    this.#intervalMs = options.intervalMs ?? 500;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    // Watching must never keep the process alive.
    this.#timer.unref();
  }

  /** The loop's health now, counting a stall still in progress (this call runs after it). */
  health(): LoopHealth {
    this.#tick();
    const now = performance.now();
    this.#stalls = this.#stalls.filter(([endedAt]) => now - endedAt <= this.#windowMs);
    let worst: [number, number] | null = null;
    for (const stall of this.#stalls) if (worst === null || stall[1] > worst[1]) worst = stall;
    return {
      healthy: worst === null,
      worstStallMs: worst === null ? 0 : Math.round(worst[1]),
      stallAgoMs: worst === null ? null : Math.round(now - worst[0]),
    };
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const now = performance.now();
    // The timer was due `intervalMs` after the last tick; anything beyond is a stall.
    const lateMs = now - this.#lastTick - this.#intervalMs;
    this.#lastTick = now;
    if (lateMs >= this.#stallMs) this.#stalls.push([now, lateMs]);
  }
}
