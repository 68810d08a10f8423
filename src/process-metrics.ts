import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * How often the event-loop delay monitor samples, in ms. prom-client's default (10 ms)
 * is a timer that wakes the main thread 100 times a second forever: on a box whose
 * cores the handler threads keep busy each wake-up preempts one of them, and an idle
 * supervisor or server should sleep. Ten samples a second still catch every stall
 * that matters (each sample measures how late it fired, to the nanosecond).
 */
const kEventLoopSampleMs = 100;

/** prom-client's process metrics (CPU, memory, handles, GC, event-loop delay) into `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: kEventLoopSampleMs });
}
