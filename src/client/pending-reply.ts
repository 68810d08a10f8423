import type { PacketType } from '../protocol/constants.js';
import type { Packet } from '../protocol/packet.js';
import type { ForegroundReply } from './job-reply.js';

/** What a pending reply may ask of the connection its answer came on (a ServerLink). */
export interface ReplyLink {
  /** A foreground job was created here: route its WORK_* packets to it by handle. */
  track(handle: string, job: ForegroundReply): void;
  /** Stop tracking a job that ended on its own (timeout, abort). */
  detach(job: ForegroundReply): void;
  /** A background job was created here: remember its server for getStatus. */
  backgroundCreated(handle: string): void;
}

/**
 * Something waiting for its one reply on a connection: a foreground submit (JOB_CREATED),
 * a background submit (JOB_CREATED), a status, echo or option request. gearmand answers
 * a connection's requests in order, so the connection hands each reply packet to the
 * oldest one waiting, which checks the type and takes it; ERROR fails it instead. The
 * connection never needs to know which kind it holds.
 */
export interface PendingReply {
  /** The packet type that answers it. */
  readonly answer: PacketType;
  /** True once answered or failed (timed out, aborted): a frame still unsent is then dropped. */
  readonly settled: boolean;
  /** Its frame was handed to the connection of `server`. */
  sent(server: string): void;
  /** Its answer (of type `answer`) arrived on `link`. */
  accept(packet: Packet, link: ReplyLink): void;
  /** It failed, for whatever reason; the first outcome wins. */
  fail(error: Error): void;
}
