import type { PacketHandler, ServerContext } from './context.js';
import { clientHandlers } from './handlers/client.js';
import { workerHandlers } from './handlers/worker.js';
import { ErrorReply } from './replies.js';
import type { ServerRequest } from './request.js';
import type { Session } from './session.js';

/** Packet type → handler; what is not here gets gearmand's "Command not expected". */
const kHandlers: ReadonlyArray<PacketHandler | undefined> = (() => {
  const table: Array<PacketHandler | undefined> = [];
  for (const family of [clientHandlers, workerHandlers]) {
    for (const [type, handler] of Object.entries(family)) table[Number(type)] = handler;
  }
  return table;
})();

/**
 * Routes one binary packet (text lines go to handleAdminLine). Like gearmand, a `\0RES`
 * packet gets INVALID_MAGIC, and a type a server does not take (responses,
 * SUBMIT_JOB_SCHED, ALL_YOURS) gets INVALID_COMMAND "Command not expected"; the
 * connection stays open for both.
 */
export function dispatchPacket(ctx: ServerContext, session: Session, packet: ServerRequest): void {
  if (packet.magic !== 'REQ') {
    session.send(ErrorReply.RESPONSE_MAGIC);
    return;
  }
  const handler = kHandlers[packet.type];
  if (handler === undefined) session.send(ErrorReply.NOT_EXPECTED);
  else handler(ctx, session, packet);
}
