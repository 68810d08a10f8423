import { isConcurrency, MAX_CONCURRENCY, MIN_CONCURRENCY } from '../../limits.js';
import type { Logger } from '../../log.js';
import type { ConnectionSnapshot } from '../connection-snapshot.js';
import { queuedJobs } from '../control/status-document.js';
import type { FunctionConfig } from '../manifest/types.js';
import { type AutoscaleInput, Autoscaler, type AutoscalerOptions } from './autoscaler.js';
import type { QueueSample, QueueSampler } from './queue-sampler.js';
import { type ReloadPlan, type ScaleChange, type ScaleSource, ScalingBook } from './scaling-book.js';

/**
 * A function whose slots FunctionScaling changes: a default function's FunctionBinding,
 * or a `dispatch: thread` function (direct/direct-function.ts).
 */
export interface ScalableFunction {
  /** Slots now. */
  readonly concurrency: number;
  /** Jobs it holds now (the autoscaler's busy count). */
  readonly running: number;
  readonly paused: boolean;
  connections(): readonly ConnectionSnapshot[];
  /**
   * Changes the slots in place, with no new generation; `declared` is the manifest's
   * config of the function (a default function's range sizes its threads for the max).
   */
  resize(slots: number, declared: FunctionConfig | undefined): Promise<void>;
}

/** What FunctionScaling needs of the supervisor that owns it. */
export interface ScalingHost {
  scalable(fn: string): ScalableFunction | undefined;
  /** A stop began: nothing scales any more (a drain pauses every function). */
  stopping(): boolean;
  /** A function's slots changed: the supervisor logs nothing more, it emits `scale`. */
  changed(fn: string, change: ScaleChange): void;
}

/**
 * How every function's slots change at run time: manual values (`gworker scale`), the
 * autoscaler fed by the one queue sampler, and `--auto`. The ScalingBook keeps what the
 * manifest declared, manual values and each function's last change; resize() is THE one
 * way slots change, so a log line, a metric and the `scale` event follow each change.
 */
export class FunctionScaling {
  readonly book = new ScalingBook();
  readonly #host: ScalingHost;
  readonly #queues: QueueSampler;
  readonly #log: Logger;
  readonly #autoscaler: Autoscaler;

  constructor(host: ScalingHost, queues: QueueSampler, log: Logger, options: AutoscalerOptions) {
    this.#host = host;
    this.#queues = queues;
    this.#log = log;
    this.#autoscaler = new Autoscaler((fn, to, why) => this.resize(fn, to, 'autoscaler', why), options);
    queues.onSample((sample) => this.#autoscaler.observe(this.#inputs(sample)));
  }

  /**
   * Sets a manual concurrency (`gworker scale FN N`), in place: its slots and its most
   * threads change at once (no new generation, no code loaded; threads past the new most
   * end once their jobs are done), and it holds (the autoscaler leaves the function
   * alone) until scaleAuto(), a manifest change of the function's concurrency, or a
   * restart. Resolves false for an unknown function.
   */
  async scale(fn: string, concurrency: number): Promise<boolean> {
    if (!isConcurrency(concurrency)) {
      throw new RangeError(
        `concurrency must be a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}, got ${concurrency}`,
      );
    }
    if (this.#host.scalable(fn) === undefined) return false;
    // Set first, so the autoscaler leaves it alone meanwhile; restored if the threads fail.
    const previous = this.book.manual(fn);
    this.book.setManual(fn, concurrency);
    try {
      await this.resize(fn, concurrency, 'manual', 'set by hand (gworker scale, the control API)');
    } catch (err) {
      this.book.setManual(fn, previous);
      throw err;
    }
    return true;
  }

  /**
   * Ends a manual value (`gworker scale FN --auto`): a range goes back to the autoscaler
   * (from the slots it has now), a fixed concurrency back to the manifest's. Resolves
   * false for an unknown function.
   */
  async scaleAuto(fn: string): Promise<boolean> {
    const declared = this.book.declared(fn);
    if (this.#host.scalable(fn) === undefined || declared === undefined) return false;
    this.book.setManual(fn, null);
    if (declared.scaling === undefined)
      await this.resize(fn, declared.concurrency, 'manual', "gworker scale --auto: the manifest's value");
    return true;
  }

  /**
   * THE one way a function's slots change at run time: manual scales, the autoscaler
   * and scaleAuto() all come here (a manifest reload sizes its new generation itself).
   * The slots change at once; when the threads do not fit (a fixed function, or a manual
   * value above a range's max), the pool's most threads change in place first.
   */
  async resize(fn: string, to: number, by: ScaleSource, why: string): Promise<void> {
    const target = this.#host.scalable(fn);
    if (target === undefined) return;
    const from = target.concurrency;
    await target.resize(to, this.book.declared(fn));
    if (from !== to) this.noteChange(fn, from, to, by, why);
  }

  /**
   * A reload of `fn` to the manifest's `config` succeeded with `plan` (ScalingBook.plan,
   * from `from` slots): the books follow, and a change of slots is logged once.
   */
  reloaded(fn: string, config: FunctionConfig, plan: ReloadPlan, from: number, cause: string): void {
    this.book.reloaded(config, plan);
    if (plan.manual?.kept)
      this.#log.info(
        { function: fn, concurrency: plan.manual.value },
        `${fn}: manual concurrency ${plan.manual.value} kept over the reload (the manifest's concurrency for it did not change); gworker scale ${fn} --auto ends it`,
      );
    else if (plan.manual !== null)
      this.noteChange(
        fn,
        from,
        plan.slots,
        'manifest',
        `the manifest's concurrency changed: manual value ${plan.manual.value} dropped`,
      );
    else if (from !== plan.slots) this.noteChange(fn, from, plan.slots, 'manifest', cause);
  }

  /** Logs a change of slots once, and keeps it as the function's last change. */
  noteChange(fn: string, from: number, to: number, by: ScaleSource, why: string): void {
    const change: ScaleChange = { from, to, by, why, at: new Date().toISOString() };
    this.book.record(fn, change);
    this.#log.info(
      { function: fn, from, to, by, why },
      `${fn}: concurrency ${from} -> ${to} (${by}: ${why})`,
    );
    this.#host.changed(fn, change);
  }

  /** The sampler runs at the autoscaler's interval while some function of `functions` autoscales. */
  follow(functions: readonly FunctionConfig[]): void {
    const any = functions.some((fn) => fn.scaling !== undefined);
    this.#queues.setAutoscaleInterval(any ? this.#autoscaler.sampleMs : null);
  }

  /** The autoscaled functions' numbers at a queue sample. */
  #inputs(sample: QueueSample): AutoscaleInput[] {
    const inputs: AutoscaleInput[] = [];
    if (this.#host.stopping()) return inputs;
    for (const name of this.book.autoscaled()) {
      const range = this.book.declared(name)?.scaling;
      const target = this.#host.scalable(name);
      // A paused function's jobs wait for the resume, not for slots.
      if (range === undefined || target === undefined || target.paused) continue;
      inputs.push({
        name,
        min: range.min,
        max: range.max,
        current: target.concurrency,
        running: target.running,
        queued: queuedJobs({ name, connections: target.connections() }, sample),
      });
    }
    return inputs;
  }
}
