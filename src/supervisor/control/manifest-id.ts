import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * A short stable id for a manifest file: the first 16 hex digits of the SHA-256 of its
 * real path (symlinks resolved). The status document carries it so that `gworker
 * status -c FILE` can tell whether the supervisor that answers runs FILE; the run file
 * of a supervisor whose control API picked its port is named after it.
 */
export function manifestId(file: string): string {
  let real = path.resolve(file);
  try {
    real = realpathSync(real);
  } catch {
    // A manifest removed since it was loaded keeps the id of the path it was loaded from.
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 16);
}
