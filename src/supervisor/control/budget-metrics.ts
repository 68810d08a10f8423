import { Counter, Gauge, type Registry } from 'prom-client';
import type { RateLimitSnapshot } from '../capacity/rate-limit.js';
import { treeResidentMb } from '../capacity/tree-memory.js';
import type { Supervisor } from '../supervisor.js';

/**
 * The box budget's and rate limits' metrics, read from the supervisor at each scrape
 * (prom-client's collect): slots used and total, memory against box.memoryMb, and per
 * function how often the box or its rate limit held a grab back. Counters are set from
 * running totals kept by the budget, so they only grow.
 */
export function registerBudgetMetrics(registry: Registry, supervisor: Supervisor): void {
  const registers = [registry];
  const box = () => supervisor.boxStatus();
  new Gauge({
    name: 'gworker_box_slots',
    help: 'box.slots: most jobs held at once by all functions (+Inf when unbounded)',
    registers,
    collect() {
      this.set(box().slots ?? Number.POSITIVE_INFINITY);
    },
  });
  new Gauge({
    name: 'gworker_box_slots_used',
    help: 'Slots of the box held now (jobs and grabs awaiting their answer), all functions',
    registers,
    collect() {
      this.set(box().used);
    },
  });
  new Gauge({
    name: 'gworker_box_cpu_slots',
    help: 'box.cpuSlots: most jobs of CPU-bound functions at once (the usable cores by default)',
    registers,
    collect() {
      this.set(box().cpuSlots);
    },
  });
  new Gauge({
    name: 'gworker_box_cpu_slots_used',
    help: 'CPU slots held now by CPU-bound functions',
    registers,
    collect() {
      this.set(box().cpuUsed);
    },
  });
  new Gauge({
    name: 'gworker_box_memory_over',
    help: '1 while the box is resident over box.memoryMb and takes no new jobs',
    registers,
    collect() {
      this.set(box().memory?.over === true ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gworker_box_resident_bytes',
    help: 'Resident memory of the supervisor and its processes: the last box.memoryMb sample, or one taken now without it',
    registers,
    collect() {
      this.set((box().memory?.residentMb ?? treeResidentMb()) * 1024 * 1024);
    },
  });
  new Counter({
    name: 'gworker_box_memory_over_total',
    help: 'Times the box went over box.memoryMb',
    registers,
    collect() {
      this.reset();
      this.inc(box().memory?.episodes ?? 0);
    },
  });
  new Counter({
    name: 'gworker_box_refusals_total',
    help: 'Grabs the box held back (no slot of the box or of the CPU-bound functions, or memory over), by function',
    labelNames: ['function'],
    registers,
    collect() {
      this.reset();
      for (const binding of supervisor.bindings()) {
        const share = binding.gate.boxShare;
        if (share !== null) this.inc({ function: binding.name }, share.refusals);
      }
    },
  });
  new Counter({
    name: 'gworker_rate_limit_hits_total',
    help: 'Times the function reached its rateLimit and stopped grabbing, by function',
    labelNames: ['function'],
    registers,
    collect() {
      this.reset();
      for (const [name, limit] of rateLimits(supervisor)) this.inc({ function: name }, limit.hits);
    },
  });
  new Counter({
    name: 'gworker_rate_limited_seconds_total',
    help: 'Time the function spent held back by its rateLimit, by function',
    labelNames: ['function'],
    registers,
    collect() {
      this.reset();
      for (const [name, limit] of rateLimits(supervisor))
        this.inc({ function: name }, limit.throttledMs / 1000);
    },
  });
}

function rateLimits(supervisor: Supervisor): Array<[string, RateLimitSnapshot]> {
  return supervisor.bindings().flatMap((binding) => {
    const limit = binding.gate.rateLimit;
    return limit === null ? [] : [[binding.name, limit.snapshot()] as [string, RateLimitSnapshot]];
  });
}
