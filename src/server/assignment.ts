import type { FunctionEntry } from './function-entry.js';
import type { JobPriority, ServerJob } from './job.js';
import type { Ability, Peer } from './peer.js';
import { atCap } from './running-cap.js';

export interface AssignmentPolicy {
  /** Serve a worker's functions in turn (gearmand's -R). */
  readonly roundRobin: boolean;
  /** HIGH jobs of every function before any NORMAL one (gearmand 2.0). */
  readonly globalPriority: boolean;
}

/** Ends a job met at the head of a queue that is to be dropped (gearmand's ignore_job). */
export type DropJob = (job: ServerJob) => void;

const kPriorities: readonly JobPriority[] = [0, 1, 2];

/**
 * The job a grab gets, and the worker's registration that got it. gearmand 1.1: the
 * first of the worker's functions (latest registered first) that has any job, its
 * highest priority first, so a LOW job of one function beats a HIGH job of the next.
 * With globalPriority every function's HIGH jobs come first. Round robin moves the
 * function that served to the end of the worker's list. A function at its `maxrunning`
 * cap is passed over (running-cap.ts): its jobs wait, in order, for a slot.
 */
export function takeJob(peer: Peer, policy: AssignmentPolicy, drop: DropJob): [ServerJob, Ability] | null {
  const abilities = peer.abilities;
  if (policy.globalPriority) {
    for (const priority of kPriorities) {
      for (let i = 0; i < abilities.length; i++) {
        const fn = (abilities[i] as Ability).fn;
        if (atCap(fn)) continue;
        const job = shiftRunnable(fn, priority, drop);
        if (job !== null) return [job, served(abilities, i, policy)];
      }
    }
    return null;
  }
  for (let i = 0; i < abilities.length; i++) {
    const fn = (abilities[i] as Ability).fn;
    if (fn.queued === 0 || atCap(fn)) continue;
    for (const priority of kPriorities) {
      const job = shiftRunnable(fn, priority, drop);
      if (job !== null) return [job, served(abilities, i, policy)];
    }
  }
  return null;
}

/**
 * Whether a grab would get a job now (PRE_SLEEP); drops the ignored jobs at the heads on
 * the way. A capped function's jobs do not count: the worker sleeps until a slot frees.
 */
export function hasRunnable(peer: Peer, drop: DropJob): boolean {
  for (const ability of peer.abilities) {
    const fn = ability.fn;
    if (atCap(fn)) continue;
    for (const priority of kPriorities) {
      const queue = fn.queues[priority];
      for (let head = queue.head; head?.ignore === true; head = queue.head) {
        queue.shift();
        fn.waiting[priority]--;
        drop(head);
      }
      if (queue.head !== null) return true;
    }
  }
  return false;
}

function served(abilities: Ability[], index: number, policy: AssignmentPolicy): Ability {
  const ability = abilities[index] as Ability;
  if (policy.roundRobin && index < abilities.length - 1) {
    abilities.splice(index, 1);
    abilities.push(ability);
  }
  return ability;
}

/** The next job of one queue, dropping the ignored ones met on the way (gearmand does at the head). */
function shiftRunnable(fn: FunctionEntry, priority: JobPriority, drop: DropJob): ServerJob | null {
  const queue = fn.queues[priority];
  for (let job = queue.shift(); job !== null; job = queue.shift()) {
    fn.waiting[priority]--;
    if (!job.ignore) return job;
    drop(job);
  }
  return null;
}
