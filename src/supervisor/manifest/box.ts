import type { Node } from 'yaml';
import type { NodeReader } from './node-reader.js';
import type { BoxConfig } from './types.js';

const kKeys = ['slots', 'cpuSlots', 'memoryMb'] as const;
/** Far above any box: a typo such as 1e9 is refused rather than meaning "no budget". */
const kMaxSlots = 100_000;

/**
 * `box: { slots, cpuSlots, memoryMb }`: what all functions on this box share.
 * `slots` bounds the jobs held at once by every function together (none when left out),
 * `cpuSlots` those of the CPU-bound functions (`cpu: true`; the box's usable cores when
 * left out), `memoryMb` stops every grab while the supervisor and its processes are
 * resident over it (docs/manifest.md#box).
 */
export function readBox(reader: NodeReader, node: Node | null | undefined): BoxConfig {
  if (node === undefined) return {};
  const map = reader.map(node, 'box');
  if (!map) return {};
  const settings = new Map(reader.entries(map, 'box', kKeys).map(([k, v]) => [k, v] as const));
  const read = (key: (typeof kKeys)[number], min: number, max: number): number | undefined =>
    settings.has(key) ? reader.integer(settings.get(key) ?? null, `box.${key}`, min, max) : undefined;
  const slots = read('slots', 1, kMaxSlots);
  const cpuSlots = read('cpuSlots', 1, kMaxSlots);
  const memoryMb = read('memoryMb', 1, 16_777_216);
  return {
    ...(slots === undefined ? {} : { slots }),
    ...(cpuSlots === undefined ? {} : { cpuSlots }),
    ...(memoryMb === undefined ? {} : { memoryMb }),
  };
}
