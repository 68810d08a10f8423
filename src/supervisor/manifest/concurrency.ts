import { isMap, type Node, type YAMLMap } from 'yaml';
import { MAX_CONCURRENCY, MIN_CONCURRENCY } from '../../limits.js';
import { usableCores } from '../capacity/usable-cores.js';
import type { NodeReader } from './node-reader.js';
import type { ConcurrencyRange } from './types.js';

/** How a function's `concurrency` reads: a fixed count, or a range the autoscaler moves in. */
export interface ConcurrencySetting {
  /** Slots when fixed; with a range, its max (the threads are sized for it). */
  readonly concurrency: number;
  readonly scaling?: ConcurrencyRange;
  /** `auto` gave the count (or the range's max): the box's usable cores, and the function is CPU-bound. */
  readonly concurrencyAuto?: true;
}

const kRangeKeys = ['min', 'max'] as const;
/** The lowest a range may go: 0 takes no jobs until some wait at the job servers. */
const kMinFloor = 0;
const kShape = `a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}, auto (the box's usable cores), or { min, max }`;

/**
 * Reads `concurrency`: `4`, `auto`, or `{ min: 0, max: 4 }` (`max: auto` too). A plain
 * number reads exactly as it always did; absent, it is 1.
 *
 * @param cores - what `auto` means (tests pass their own). @defaultValue usableCores()
 */
export function readConcurrency(
  reader: NodeReader,
  node: Node | null | undefined,
  where: string,
  cores: () => number = usableCores,
): ConcurrencySetting {
  if (node === undefined) return { concurrency: 1 };
  if (isMap(node)) return readRange(reader, node, where, cores);
  if (reader.scalar(node) === 'auto') return { concurrency: cores(), concurrencyAuto: true };
  if (typeof reader.scalar(node) !== 'number') {
    reader.report(node, where, `expected ${kShape}`);
    return { concurrency: 1 };
  }
  return { concurrency: reader.integer(node, where, MIN_CONCURRENCY, MAX_CONCURRENCY) ?? 1 };
}

function readRange(reader: NodeReader, map: YAMLMap, where: string, cores: () => number): ConcurrencySetting {
  const before = reader.issues.length;
  const settings = new Map(
    reader.entries(map, where, kRangeKeys).map(([key, value]) => [key, value] as const),
  );
  for (const key of kRangeKeys) {
    if (!settings.has(key)) reader.report(map, where, `a range needs both min and max; "${key}" is missing`);
  }
  const maxNode = settings.get('max') ?? null;
  const maxAuto = reader.scalar(maxNode) === 'auto';
  const max = maxAuto
    ? cores()
    : settings.has('max')
      ? reader.integer(maxNode, `${where}.max`, MIN_CONCURRENCY, MAX_CONCURRENCY)
      : undefined;
  const min = settings.has('min')
    ? reader.integer(settings.get('min') ?? null, `${where}.min`, kMinFloor, MAX_CONCURRENCY)
    : undefined;
  if (min !== undefined && max !== undefined && min > max) {
    reader.report(
      settings.get('min'),
      `${where}.min`,
      `min (${min}) must not be above max (${max}${maxAuto ? ', the usable cores' : ''})`,
    );
  }
  if (reader.issues.length > before || min === undefined || max === undefined) return { concurrency: 1 };
  return { concurrency: max, scaling: { min, max }, ...(maxAuto ? { concurrencyAuto: true as const } : {}) };
}
