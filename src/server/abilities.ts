import type { FunctionEntry } from './function-entry.js';
import type { Ability, Peer } from './peer.js';
import type { ServerFunctionRegistry } from './registry.js';

/**
 * A worker connection's registered functions (CAN_DO, CAN_DO_TIMEOUT, CANT_DO,
 * RESET_ABILITIES) and the per-function counts that follow them: workers for `status`,
 * sleepers for wake-ups. Requeuing the jobs a dropped function leaves behind is the
 * engine's part.
 */

/**
 * CAN_DO / CAN_DO_TIMEOUT. gearmand adds each registration at the head of the
 * connection's list and serves the list in order: the latest registration first. A
 * repeated one moves the function to the head and updates its timeout; unlike gearmand
 * it is not counted twice.
 */
export function addAbility(
  registry: ServerFunctionRegistry,
  peer: Peer,
  name: string,
  timeoutMs: number,
): void {
  const fn = registry.getOrCreate(name);
  const abilities = peer.abilities;
  const index = abilities.findIndex((ability) => ability.fn === fn);
  if (index >= 0) {
    const [ability] = abilities.splice(index, 1) as [Ability];
    ability.timeoutMs = timeoutMs;
    abilities.unshift(ability);
    return;
  }
  abilities.unshift({ fn, timeoutMs });
  fn.workers++;
  if (peer.sleeping && !peer.noopSent) fn.sleepers.add(peer);
}

/** CANT_DO: the function it dropped, or undefined when it had not registered it. */
export function removeAbility(
  registry: ServerFunctionRegistry,
  peer: Peer,
  name: string,
): FunctionEntry | undefined {
  const fn = registry.get(name);
  const index = fn === undefined ? -1 : peer.abilities.findIndex((ability) => ability.fn === fn);
  if (fn === undefined || index < 0) return undefined;
  peer.abilities.splice(index, 1);
  forget(peer, fn);
  return fn;
}

/** RESET_ABILITIES, and a connection that goes away: it does nothing any more. */
export function clearAbilities(peer: Peer): void {
  for (const ability of peer.abilities) forget(peer, ability.fn);
  peer.abilities.length = 0;
}

function forget(peer: Peer, fn: FunctionEntry): void {
  fn.workers--;
  fn.sleepers.delete(peer);
}
