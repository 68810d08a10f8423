import type { Node } from 'yaml';
import type { NodeReader } from './node-reader.js';
import type { AutoscaleConfig } from './types.js';
import { parseDuration } from './units.js';

const kKeys = ['interval', 'scaleDownAfter'] as const;
/** Below this, every job server would answer an admin status more than ten times a second per box. */
const kMinIntervalMs = 100;
const kMaxIntervalMs = 3_600_000;
const kMaxDownAfterMs = 86_400_000;

/**
 * Reads the top-level `autoscale: { interval, scaleDownAfter }`, the timing of every
 * `concurrency: { min, max }` function's autoscaler; undefined when absent (the defaults:
 * 1s and 30s).
 */
export function readAutoscale(
  reader: NodeReader,
  node: Node | null | undefined,
): AutoscaleConfig | undefined {
  if (node === undefined) return undefined;
  const map = reader.map(node, 'autoscale');
  if (!map) return undefined;
  const settings = new Map(reader.entries(map, 'autoscale', kKeys).map(([k, v]) => [k, v] as const));
  const read = (key: (typeof kKeys)[number], min: number, max: number): number | undefined => {
    const value = settings.get(key);
    if (value === undefined) return undefined;
    const ms = parseDuration(reader.scalar(value));
    if (typeof ms === 'string') reader.report(value, `autoscale.${key}`, ms);
    else if (ms < min || ms > max)
      reader.report(value, `autoscale.${key}`, `expected from ${min}ms to ${max}ms, got ${ms}ms`);
    else return ms;
    return undefined;
  };
  const sampleMs = read('interval', kMinIntervalMs, kMaxIntervalMs);
  const downAfterMs = read('scaleDownAfter', kMinIntervalMs, kMaxDownAfterMs);
  if (sampleMs !== undefined && downAfterMs !== undefined && downAfterMs < sampleMs)
    reader.report(
      settings.get('scaleDownAfter'),
      'autoscale.scaleDownAfter',
      'expected at least the interval',
    );
  return {
    ...(sampleMs === undefined ? {} : { sampleMs }),
    ...(downAfterMs === undefined ? {} : { downAfterMs }),
  };
}
