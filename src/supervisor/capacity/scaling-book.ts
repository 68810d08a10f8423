import type { FunctionConfig } from '../manifest/types.js';

/** Who changed a function's concurrency. */
export type ScaleSource = 'autoscaler' | 'manual' | 'manifest';

/** One change of a function's slots, as status, top and the dashboard show the last one. */
export interface ScaleChange {
  readonly from: number;
  readonly to: number;
  readonly by: ScaleSource;
  readonly why: string;
  /** ISO time of the change. */
  readonly at: string;
}

/**
 * How a function's concurrency is set now: `fixed` (a number in the manifest), `auto`
 * (the autoscaler moves it between min and max), `manual` (`gworker scale FN N`, held
 * until `gworker scale FN --auto`, a manifest change of that function's concurrency, or a
 * restart).
 */
export type ScaleMode = 'fixed' | 'auto' | 'manual';

export interface ScalingReport {
  readonly mode: ScaleMode;
  /** The manifest's range; null for a fixed concurrency. */
  readonly min: number | null;
  readonly max: number | null;
  /** `concurrency: auto` (or `max: auto`) gave the count: the box's usable cores. */
  readonly auto: boolean;
  readonly lastChange: ScaleChange | null;
}

interface Entry {
  /** The manifest's config of the function, as last applied. */
  declared: FunctionConfig;
  manual: number | null;
  lastChange: ScaleChange | null;
}

/** What a reload of a function does to its slots and its manual value. */
export interface ReloadPlan {
  readonly slots: number;
  /** The manual value, and whether the new manifest keeps it (its concurrency for the function did not change). */
  readonly manual: { readonly value: number; readonly kept: boolean } | null;
}

/**
 * The supervisor's books on each function's concurrency: what the manifest declared,
 * a manual value if one holds, and the last change. It decides nothing about load (the
 * Autoscaler does); it answers what the slots should be after a reload.
 */
export class ScalingBook {
  readonly #entries = new Map<string, Entry>();

  /** A function bound with its manifest config: its first slots (min for a range). */
  add(config: FunctionConfig): number {
    this.#entries.set(config.name, { declared: config, manual: null, lastChange: null });
    return config.scaling?.min ?? config.concurrency;
  }

  remove(fn: string): void {
    this.#entries.delete(fn);
  }

  declared(fn: string): FunctionConfig | undefined {
    return this.#entries.get(fn)?.declared;
  }

  manual(fn: string): number | null {
    return this.#entries.get(fn)?.manual ?? null;
  }

  setManual(fn: string, value: number | null): void {
    const entry = this.#entries.get(fn);
    if (entry !== undefined) entry.manual = value;
  }

  /** Names of the functions the autoscaler moves: a range, and no manual value. */
  autoscaled(): string[] {
    return [...this.#entries]
      .filter(([, e]) => e.declared.scaling !== undefined && e.manual === null)
      .map(([name]) => name);
  }

  /**
   * The slots after a reload to `next`: a manual value survives when the function's
   * concurrency setting is the same as before; otherwise the manifest's own value holds
   * (a range keeps the current slots, moved inside it).
   */
  plan(next: FunctionConfig, current: number): ReloadPlan {
    const entry = this.#entries.get(next.name);
    const manual = entry?.manual ?? null;
    const kept = manual !== null && entry !== undefined && sameConcurrency(entry.declared, next);
    const fromManifest = next.scaling
      ? Math.min(next.scaling.max, Math.max(next.scaling.min, current))
      : next.concurrency;
    return {
      slots: kept ? manual : fromManifest,
      manual: manual === null ? null : { value: manual, kept },
    };
  }

  /** A reload to `next` succeeded with `plan`. */
  reloaded(next: FunctionConfig, plan: ReloadPlan): void {
    const entry = this.#entries.get(next.name);
    if (entry === undefined) return;
    entry.declared = next;
    if (plan.manual !== null && !plan.manual.kept) entry.manual = null;
  }

  record(fn: string, change: ScaleChange): void {
    const entry = this.#entries.get(fn);
    if (entry !== undefined) entry.lastChange = change;
  }

  report(fn: string): ScalingReport {
    const entry = this.#entries.get(fn);
    const scaling = entry?.declared.scaling;
    return {
      mode: entry?.manual != null ? 'manual' : scaling ? 'auto' : 'fixed',
      min: scaling?.min ?? null,
      max: scaling?.max ?? null,
      auto: entry?.declared.concurrencyAuto === true,
      lastChange: entry?.lastChange ?? null,
    };
  }
}

/** Threads a generation needs for `slots`: a range is sized for its max (the threads start on demand). */
export function threadsFor(config: FunctionConfig, slots: number): number {
  return Math.max(1, slots, config.scaling?.max ?? 0);
}

function sameConcurrency(a: FunctionConfig, b: FunctionConfig): boolean {
  return (
    a.concurrency === b.concurrency && a.scaling?.min === b.scaling?.min && a.scaling?.max === b.scaling?.max
  );
}
