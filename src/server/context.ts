import type { Logger } from '../log.js';
import type { JobEngine } from './engine.js';
import type { ServerFunctionRegistry } from './registry.js';
import type { ServerRequest } from './request.js';
import type { Session } from './session.js';

/** What the packet and admin handlers share: the job engine and the server's facts. */
export interface ServerContext {
  readonly engine: JobEngine;
  readonly registry: ServerFunctionRegistry;
  /** Every open connection, in the order they were accepted (admin `workers`). */
  sessions(): Iterable<Session>;
  /** What `version` reports, e.g. `0.1.0+gworker`. */
  readonly version: string;
  /** What `verbose` reports, in gearmand's words: ERROR, WARNING, INFO, DEBUG... */
  readonly verboseLevel: string;
  readonly logger: Logger;
}

/** Handles one binary request packet from a connection (valid during the call only, see ServerRequest). */
export type PacketHandler = (ctx: ServerContext, session: Session, packet: ServerRequest) => void;

/** The argument at `index`; the decoder always delivers the type's full count. */
export function arg(packet: ServerRequest, index: number): Buffer {
  return packet.arg(index);
}
