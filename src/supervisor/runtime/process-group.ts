/**
 * The process groups of commands still running, by their leader's pid. A command runs
 * detached, in a group of its own, so that everything it starts can be ended with it;
 * the price is that nothing ends those processes for us when the supervisor exits, so
 * whatever is still tracked here when the process exits (a forced stop, a second
 * SIGTERM) is killed on the way out.
 */
const live = new Set<number>();
let hooked = false;

/** Sends `signal` to every process in the group; false when none is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A command's group started: kill it if the supervisor exits before the command ends. */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  if (!hooked) {
    hooked = true;
    process.once('exit', killLiveGroups);
  }
}

/** The command has ended and its group was killed: nothing is left to end at exit. */
export function releaseGroup(pgid: number): void {
  live.delete(pgid);
}

function killLiveGroups(): void {
  for (const pgid of live) signalGroup(pgid, 'SIGKILL');
  live.clear();
}
