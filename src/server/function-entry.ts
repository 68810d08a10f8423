import type { ServerJob } from './job.js';
import { JobQueue } from './job-queue.js';
import type { Peer } from './peer.js';

/**
 * Everything the server keeps per function name: three priority FIFOs, the unique-id
 * index for coalescing, the sleeping workers to wake, and the counters that the admin
 * `status` and `prioritystatus` commands report. Like gearmand, a function, once known
 * (a submit, a CAN_DO, `create function`), stays until `drop function`.
 */
export class FunctionEntry {
  /** The name's bytes as a latin1 string: a lossless map key for any bytes. */
  readonly name: string;
  readonly nameBytes: Buffer;
  /** The name as the admin commands print it: up to a NUL, as gearmand's printf("%.*s") does. */
  readonly displayName: string;
  readonly queues: readonly [JobQueue, JobQueue, JobQueue] = [new JobQueue(), new JobQueue(), new JobQueue()];
  /**
   * Jobs per priority that wait: in a queue (ignored ones included until reached, as
   * gearmand counts them) or for their epoch time. `prioritystatus` reports these.
   */
  readonly waiting: [number, number, number] = [0, 0, 0];
  /** Every job of the function, waiting or running (`status` TOTAL). */
  total = 0;
  running = 0;
  /** Connections that registered the function. */
  workers = 0;
  /** `maxqueue` limits per priority; 0 is no limit. Compared with `total`, as gearmand does. */
  readonly maxQueue: [number, number, number] = [0, 0, 0];
  /**
   * `maxrunning` (gworker's own): jobs of the function that may run at once across all
   * workers; 0 is no cap. Set through the registry, which keeps it across `drop function`.
   */
  maxRunning = 0;
  /** When the cap last held a job back in the log (running-cap.ts logs it once a minute). */
  capLoggedAt = Number.NEGATIVE_INFINITY;
  readonly uniques = new Map<string, ServerJob>();
  /** Workers asleep (PRE_SLEEP) and not yet woken, longest asleep first. */
  readonly sleepers = new Set<Peer>();

  constructor(name: string) {
    this.name = name;
    this.nameBytes = Buffer.from(name, 'latin1');
    this.displayName = displayName(name);
  }

  /** Jobs in the three queues (not those waiting for their epoch time). */
  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }
}

/** A name as the admin commands print it: up to a NUL, as gearmand's printf("%.*s") does. */
export function displayName(name: string): string {
  const nul = name.indexOf('\0');
  return nul === -1 ? name : name.slice(0, nul);
}
