import type { PacketType } from '../protocol/constants.js';
import type { FunctionEntry } from './function-entry.js';
import type { ServerJob } from './job.js';

/** A function a worker connection registered (CAN_DO / CAN_DO_TIMEOUT). */
export interface Ability {
  readonly fn: FunctionEntry;
  /** CAN_DO_TIMEOUT in milliseconds; 0 for none. */
  timeoutMs: number;
}

/**
 * What the job engine needs from a connection: a way to send it frames, its protocol
 * options, and the sets that tie jobs to it, so that a disconnect costs O(its own jobs).
 * Any connection may act as client, worker or both, as on gearmand.
 */
/** The place of a reply that is not known yet (a submit waiting for its store write). */
export interface ReplySlot {
  resolve(frame: Buffer): void;
}

export interface Peer {
  readonly id: number;
  send(frame: Buffer): void;
  /** Sends a frame whose only argument is the job's handle (JOB_CREATED), built where it is sent. */
  sendJobFrame(type: PacketType, job: ServerJob): void;
  /** Reserves a reply's place in the output: frames sent after it wait until it is resolved. */
  defer(): ReplySlot;
  /** The client gets WORK_EXCEPTION (OPTION_REQ exceptions, or the server's --exceptions). */
  exceptions: boolean;
  /** Jobs this connection runs as a worker. */
  readonly running: Set<ServerJob>;
  /** Foreground jobs this connection waits for as a client. */
  readonly waiting: Set<ServerJob>;
  /** Registered functions in the order they are served: the latest registration first, as gearmand. */
  readonly abilities: Ability[];
  /** Sent PRE_SLEEP and has not grabbed since. */
  sleeping: boolean;
  /** Was sent a NOOP since its last grab (at most one until it grabs again). */
  noopSent: boolean;
}
