import { type Logger, silentLogger } from '../../log.js';
import {
  type AutoscaleTuning,
  AutoscaleWindow,
  type FunctionSample,
  type ScaleDecision,
} from './autoscaler-window.js';

/** One autoscaled function, as the supervisor sees it at a sample. */
export interface AutoscaleInput extends Omit<FunctionSample, 'hasRoom'> {
  readonly name: string;
}

export interface AutoscalerOptions extends Partial<AutoscaleTuning> {
  /** How often the job servers' queues are sampled while a function autoscales. @defaultValue 1000 */
  readonly sampleMs?: number;
  /**
   * Whether the box has room for another slot of `fn` (the box budget); the autoscaler
   * does not scale up while it says no. @defaultValue always true
   */
  readonly hasRoom?: (fn: string) => boolean;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** Applies a change; the supervisor routes it through its one concurrency method. */
export type ApplyScale = (fn: string, to: number, why: string) => Promise<void>;

/**
 * The controller: at every queue sample it hands each autoscaled function's numbers to
 * that function's AutoscaleWindow and applies what the window calls for, one change per
 * function at a time. Functions under a manual value are not handed in (the supervisor
 * leaves them out), and a function that comes back starts a fresh window.
 */
export class Autoscaler {
  readonly sampleMs: number;
  readonly #tuning: AutoscaleTuning;
  readonly #hasRoom: (fn: string) => boolean;
  readonly #apply: ApplyScale;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #windows = new Map<string, AutoscaleWindow>();
  readonly #applying = new Set<string>();

  constructor(apply: ApplyScale, options: AutoscalerOptions = {}) {
    this.sampleMs = options.sampleMs ?? 1000;
    this.#tuning = {
      upSamples: options.upSamples ?? 2,
      upCooldownMs: options.upCooldownMs ?? 2 * this.sampleMs,
      downAfterMs: options.downAfterMs ?? 30_000,
    };
    this.#apply = apply;
    this.#hasRoom = options.hasRoom ?? (() => true);
    this.#log = (options.logger ?? silentLogger).child({ component: 'autoscaler' });
    this.#now = options.now ?? Date.now;
  }

  /** One sample of every autoscaled function; the changes it calls for are applied. */
  observe(functions: readonly AutoscaleInput[]): void {
    const now = this.#now();
    const seen = new Set<string>();
    const idle: Array<{ fn: AutoscaleInput; window: AutoscaleWindow }> = [];
    const waiting: string[] = [];
    for (const fn of functions) {
      seen.add(fn.name);
      if (this.#applying.has(fn.name)) continue;
      let window = this.#windows.get(fn.name);
      if (window === undefined) {
        window = new AutoscaleWindow(this.#tuning, now);
        this.#windows.set(fn.name, window);
      }
      const decision = window.observe({ ...fn, hasRoom: this.#hasRoom(fn.name) }, now);
      if (window.wantsRoom) waiting.push(fn.name);
      if (decision === null || decision.to === fn.current) idle.push({ fn, window });
      else this.#change(fn.name, decision);
    }
    // With the box full, slots idle in one function are worth more to one with jobs
    // waiting now than a whole idle window later (the box budget's hasRoom decides the rest).
    if (waiting.length > 0) {
      for (const { fn, window } of idle) {
        if (waiting.includes(fn.name)) continue;
        const decision = window.reclaim({ ...fn, hasRoom: true }, now, waiting);
        if (decision !== null) this.#change(fn.name, decision);
      }
    }
    // A function under a manual value, or gone: it starts afresh when it comes back.
    for (const name of this.#windows.keys()) if (!seen.has(name)) this.#windows.delete(name);
  }

  #change(fn: string, decision: ScaleDecision): void {
    this.#applying.add(fn);
    this.#apply(fn, decision.to, decision.why)
      .catch((err: Error) =>
        this.#log.error({ function: fn, err }, `${fn}: autoscale to ${decision.to} failed: ${err.message}`),
      )
      .finally(() => this.#applying.delete(fn));
  }
}
