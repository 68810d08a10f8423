import type { FunctionConfig, ModuleFunctionConfig } from '../manifest/types.js';

/** Handler threads a generation of this function runs: concurrency over jobs per thread. */
export function threadCount(config: ModuleFunctionConfig): number {
  return Math.max(1, Math.ceil(config.concurrency / config.jobsPerThread));
}

/** Jobs the function may hold beyond its concurrency: `prefetch` for each of its threads. */
export function prefetchSlots(config: FunctionConfig): number {
  return config.kind === 'module' ? (config.prefetch ?? 0) * threadCount(config) : 0;
}
