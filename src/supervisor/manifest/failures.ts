import path from 'node:path';
import type { Node } from 'yaml';
import type { NodeReader } from './node-reader.js';
import type { FailuresConfig } from './types.js';

const kKeys = ['store', 'keep'] as const;
const kDefaultKeep = 10_000;

/** `failures: { store: FILE, keep: N }`: where final failures are kept on this box. */
export function readFailures(
  reader: NodeReader,
  node: Node | null,
  baseDir: string,
): FailuresConfig | undefined {
  const map = reader.map(node, 'failures');
  if (!map) return undefined;
  const before = reader.issues.length;
  const settings = new Map(reader.entries(map, 'failures', kKeys).map(([k, v]) => [k, v] as const));
  if (!settings.has('store'))
    reader.report(map, 'failures.store', 'missing setting "store" (an SQLite file)');
  const store = settings.has('store')
    ? reader.string(settings.get('store') ?? null, 'failures.store')
    : undefined;
  const keep = settings.has('keep')
    ? reader.integer(settings.get('keep') ?? null, 'failures.keep', 1, 10_000_000)
    : kDefaultKeep;
  if (reader.issues.length > before || store === undefined || keep === undefined) return undefined;
  return { store: path.resolve(baseDir, store), keep };
}
