import type { Node } from 'yaml';
import type { NodeReader } from './node-reader.js';
import { formatSize, parseSize } from './units.js';

/**
 * The default `maxResultSize`: a little under the smallest frame limit a result meets on
 * its way. `gworker server` refuses frames over 64 MiB by default (and so do gworker's
 * Client and Worker), and a frame carries the job handle beside the result; gearmand
 * 1.1.20 has no limit of its own, but holds a result in memory for every waiting
 * client. 32 MiB leaves room below 64 MiB for both; a result past it belongs in shared
 * storage, with its address as the job's result.
 */
export const DEFAULT_MAX_RESULT_SIZE = 32 * 1024 * 1024;
/** The largest `maxResultSize` accepted: past 1 GiB, one result would weigh on every part. */
export const MAX_RESULT_SIZE_LIMIT = 1024 ** 3;

/** Reads a `maxResultSize` setting: bytes, or a size with its unit; `fallback` when absent or wrong. */
export function readMaxResultSize(
  reader: NodeReader,
  node: Node | null | undefined,
  where: string,
  fallback: number,
): number {
  if (node === undefined) return fallback;
  const parsed = parseSize(reader.scalar(node));
  if (typeof parsed === 'string') {
    reader.report(node, where, parsed);
    return fallback;
  }
  if (parsed < 1 || parsed > MAX_RESULT_SIZE_LIMIT) {
    reader.report(
      node,
      where,
      `expected a size from 1B to ${formatSize(MAX_RESULT_SIZE_LIMIT)}, got ${formatSize(parsed)}`,
    );
    return fallback;
  }
  return parsed;
}
