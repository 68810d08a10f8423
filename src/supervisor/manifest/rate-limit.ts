import type { Node } from 'yaml';
import { MAX_TIMER_MS } from '../../limits.js';
import { MAX_RATE_JOBS, type RateLimitConfig } from '../capacity/rate-limit.js';
import type { NodeReader } from './node-reader.js';
import { parseDuration } from './units.js';

const kKeys = ['jobs', 'per'] as const;

/** `rateLimit: { jobs: N, per: DURATION }`: at most N jobs of the function start in any span of `per`. */
export function readRateLimit(
  reader: NodeReader,
  node: Node | null,
  where: string,
): RateLimitConfig | undefined {
  const map = reader.map(node, where);
  if (!map) return undefined;
  const before = reader.issues.length;
  const settings = new Map(reader.entries(map, where, kKeys).map(([k, v]) => [k, v] as const));
  for (const key of kKeys) {
    if (!settings.has(key)) reader.report(map, `${where}.${key}`, `missing setting "${key}"`);
  }
  const jobsNode = settings.get('jobs');
  const jobs =
    jobsNode === undefined ? undefined : reader.integer(jobsNode, `${where}.jobs`, 1, MAX_RATE_JOBS);
  const perNode = settings.get('per');
  let perMs: number | undefined;
  if (perNode !== undefined) {
    const parsed = parseDuration(reader.scalar(perNode));
    if (typeof parsed === 'string') reader.report(perNode, `${where}.per`, parsed);
    else if (parsed < 1 || parsed > MAX_TIMER_MS)
      reader.report(perNode, `${where}.per`, `expected 1ms to 24 days, got "${reader.sourceText(perNode)}"`);
    else perMs = parsed;
  }
  if (reader.issues.length > before || jobs === undefined || perMs === undefined) return undefined;
  return { jobs, perMs };
}
