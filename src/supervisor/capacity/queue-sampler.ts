import type { ServerAddress } from '../../net/address.js';
import { type ProbeResult, QueueProbe } from '../control/queue-probe.js';

export type QueueSample = ReadonlyMap<string, ProbeResult>;

export interface QueueSamplerOptions {
  /** Every job server to ask, read at each sample (the manifest can change). */
  readonly servers: () => ReadonlyMap<string, ServerAddress>;
  /** Longest wait for a server's admin status. @defaultValue 2000 */
  readonly timeoutMs?: number;
  /** How long a look (a status, the dashboard, `gworker top`) keeps the watch rate on. @defaultValue 60000 */
  readonly watchWindowMs?: number;
  readonly now?: () => number;
}

/**
 * The one sampler of the job servers' queues (admin `status` on every server), shared
 * by the autoscaler and the control API's queue history and metrics, so a box costs each
 * server one status call per interval, not one per reader.
 *
 * It runs only while someone needs it: at the autoscaler's interval while any function
 * autoscales; at the watch interval (1 s) for a minute after someone looked (`watch()`:
 * a status, the history, the dashboard, `gworker top`); otherwise not at all. A probe
 * asked for directly (`sample()`, as a status does) feeds every listener too, and the
 * timer skips its next tick when one ran within half an interval.
 */
export class QueueSampler {
  readonly probe: QueueProbe;
  readonly #servers: () => ReadonlyMap<string, ServerAddress>;
  readonly #watchWindowMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(sample: QueueSample) => void>();
  #autoscaleMs: number | null = null;
  #watchMs: number | null = null;
  #watchedUntil = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerMs: number | null = null;
  #probedAt = Number.NEGATIVE_INFINITY;
  #running: Promise<QueueSample> | null = null;
  #closed = false;

  constructor(options: QueueSamplerOptions) {
    this.probe = new QueueProbe(options.timeoutMs);
    this.#servers = options.servers;
    this.#watchWindowMs = options.watchWindowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** The interval it samples at now; null while nobody needs samples. */
  get intervalMs(): number | null {
    const watching = this.#watchMs !== null && this.#now() < this.#watchedUntil ? this.#watchMs : null;
    if (watching === null) return this.#autoscaleMs;
    return this.#autoscaleMs === null ? watching : Math.min(watching, this.#autoscaleMs);
  }

  /** Sample every `ms` while some function autoscales; null when none does. */
  setAutoscaleInterval(ms: number | null): void {
    this.#autoscaleMs = ms;
    this.#schedule();
  }

  /** Someone looked: sample every `ms` (0: never in the background) for the next watch window. */
  watch(ms: number): void {
    if (ms <= 0) return;
    this.#watchMs = this.#watchMs === null ? ms : Math.min(this.#watchMs, ms);
    this.#watchedUntil = this.#now() + this.#watchWindowMs;
    this.#schedule();
  }

  /** Called with every sample, from the timer or asked for. Returns the unsubscribe. */
  onSample(listener: (sample: QueueSample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Probes every server now (joining a probe already on the wire) and feeds the listeners. */
  sample(): Promise<QueueSample> {
    this.#running ??= (async () => {
      try {
        const sample = await this.probe.probe(this.#servers());
        this.#probedAt = this.#now();
        if (!this.#closed) for (const listener of this.#listeners) listener(sample);
        return sample;
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Probes unless one ran within `maxAgeMs`; resolves either way once fresh enough. */
  async refresh(maxAgeMs: number): Promise<void> {
    if (this.#now() - this.#probedAt >= maxAgeMs) await this.sample();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop();
    await this.#running?.catch(() => {});
    await this.probe.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    const ms = this.intervalMs;
    if (ms === this.#timerMs) return;
    this.#stop();
    if (ms === null) return;
    this.#timerMs = ms;
    // unref: sampling alone never keeps the process alive.
    this.#timer = setInterval(() => this.#tick(ms), ms).unref();
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#timerMs = null;
  }

  #tick(ms: number): void {
    // The watch window may have ended: slow down or stop.
    if (this.intervalMs !== ms) {
      this.#schedule();
      if (this.#timer === null) return;
    }
    if (this.#running !== null || this.#now() - this.#probedAt < ms / 2) return;
    // A server's failure is in its ProbeResult; nothing else can throw here.
    this.sample().catch(() => {});
  }
}
