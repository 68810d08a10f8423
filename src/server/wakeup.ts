import { FRAME_NOOP } from '../protocol/frames.js';
import type { FunctionEntry } from './function-entry.js';
import type { Peer } from './peer.js';

/**
 * The sleeping-worker bookkeeping (gearmand's is_sleeping / is_noop_sent). A worker that
 * sent PRE_SLEEP and has no NOOP pending sits in the sleeper set of each of its
 * functions, so waking them costs O(NOOPs sent), not O(workers of the function).
 */

/** PRE_SLEEP with nothing to do: the worker waits for a NOOP. */
export function fallAsleep(peer: Peer): void {
  peer.sleeping = true;
  if (!peer.noopSent) for (const ability of peer.abilities) ability.fn.sleepers.add(peer);
}

/** A grab: the worker is awake, and the next job may NOOP it again. */
export function wakeUp(peer: Peer): void {
  if (peer.sleeping && !peer.noopSent) leaveSleeperSets(peer);
  peer.sleeping = false;
  peer.noopSent = false;
}

/**
 * A job arrived for `fn`: NOOP its sleeping workers, all of them or `limit` (> 0), the
 * longest asleep first. A connection gets one NOOP until it grabs again.
 */
export function wakeSleepers(fn: FunctionEntry, limit: number): void {
  if (fn.sleepers.size === 0) return;
  const most = limit > 0 ? limit : Number.POSITIVE_INFINITY;
  let sent = 0;
  for (const peer of fn.sleepers) {
    if (sent >= most) break;
    peer.send(FRAME_NOOP);
    peer.noopSent = true;
    leaveSleeperSets(peer);
    sent++;
  }
}

function leaveSleeperSets(peer: Peer): void {
  for (const ability of peer.abilities) ability.fn.sleepers.delete(peer);
}
