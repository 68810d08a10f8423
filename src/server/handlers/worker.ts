import { MAX_JOB_HANDLE_SIZE, PacketType, packetTypeName } from '../../protocol/constants.js';
import { encodeResponse } from '../../protocol/encoder.js';
import { arg, type PacketHandler, type ServerContext } from '../context.js';
import type { GrabKind } from '../engine.js';
import { parseCInteger, toUint32 } from '../numbers.js';
import { ErrorReply, errorFrame } from '../replies.js';
import type { Session } from '../session.js';

const canDo: PacketHandler = (ctx, session, packet) => {
  ctx.engine.canDo(session, arg(packet, 0).toString('latin1'), 0);
};

/**
 * CAN_DO_TIMEOUT: function, timeout in milliseconds as decimal text (gearmand ≥ 1.1.19).
 * Read like strtol, so a binary-encoded number is 0: no timeout, as on gearmand.
 */
const canDoTimeout: PacketHandler = (ctx, session, packet) => {
  const timeout = parseCInteger(arg(packet, 1));
  ctx.engine.canDo(session, arg(packet, 0).toString('latin1'), Math.max(timeout, 0));
};

const cantDo: PacketHandler = (ctx, session, packet) => {
  ctx.engine.cantDo(session, arg(packet, 0).toString('latin1'));
};

const resetAbilities: PacketHandler = (ctx, session) => {
  ctx.engine.resetAbilities(session);
};

const preSleep: PacketHandler = (ctx, session) => {
  ctx.engine.preSleep(session);
};

function grab(kind: GrabKind): PacketHandler {
  return (ctx, session) => ctx.engine.grab(session, kind);
}

/** WORK_STATUS: the job's numerator and denominator (atoi into uint32), forwarded as sent. */
const workStatus: PacketHandler = (ctx, session, packet) => {
  const handle = arg(packet, 0);
  const job = ctx.engine.owned(session, handle);
  if (job === undefined) {
    session.send(ErrorReply.RESULT_NOT_FOUND);
    return;
  }
  const numerator = arg(packet, 1);
  const denominator = arg(packet, 2);
  ctx.engine.workStatus(job, toUint32(parseCInteger(numerator)), toUint32(parseCInteger(denominator)), () =>
    encodeResponse(PacketType.WORK_STATUS, [handle, numerator, denominator]),
  );
};

const workComplete: PacketHandler = (ctx, session, packet) => {
  const job = ctx.engine.owned(session, arg(packet, 0));
  if (job === undefined) session.send(ErrorReply.RESULT_NOT_FOUND);
  else ctx.engine.workComplete(job, arg(packet, 1));
};

const workFail: PacketHandler = (ctx, session, packet) => {
  const handle = arg(packet, 0);
  if (handle.length >= MAX_JOB_HANDLE_SIZE) {
    session.send(ErrorReply.HANDLE_TOO_LARGE);
    return;
  }
  const job = ctx.engine.owned(session, handle);
  if (job === undefined) session.send(ErrorReply.RESULT_NOT_FOUND);
  else ctx.engine.workFail(job);
};

const workException: PacketHandler = (ctx, session, packet) => {
  const job = ctx.engine.owned(session, arg(packet, 0));
  if (job === undefined) session.send(ErrorReply.EXCEPTION_NOT_FOUND);
  else ctx.engine.workException(job, arg(packet, 1));
};

/** WORK_DATA and WORK_WARNING. */
const workData: PacketHandler = (ctx, session, packet) => {
  const job = ctx.engine.owned(session, arg(packet, 0));
  if (job === undefined) session.send(ErrorReply.DATA_NOT_FOUND);
  else ctx.engine.workData(job, packet.type, arg(packet, 1));
};

export const workerHandlers: Partial<Record<PacketType, PacketHandler>> = {
  [PacketType.CAN_DO]: canDo,
  [PacketType.CAN_DO_TIMEOUT]: canDoTimeout,
  [PacketType.CANT_DO]: cantDo,
  [PacketType.RESET_ABILITIES]: resetAbilities,
  [PacketType.PRE_SLEEP]: preSleep,
  [PacketType.GRAB_JOB]: grab('plain'),
  [PacketType.GRAB_JOB_UNIQ]: grab('uniq'),
  [PacketType.GRAB_JOB_ALL]: grab('all'),
  [PacketType.WORK_STATUS]: workStatus,
  [PacketType.WORK_COMPLETE]: workComplete,
  [PacketType.WORK_FAIL]: workFail,
  [PacketType.WORK_EXCEPTION]: workException,
  [PacketType.WORK_DATA]: workData,
  [PacketType.WORK_WARNING]: workData,
};

/**
 * A WORK_* frame over maxFrameSize, read past by the session (issue 10, item 3): the job
 * fails with the reason (WORK_EXCEPTION to clients that asked for exceptions, WORK_FAIL to
 * the others) and is not requeued, one warning is logged, and the worker gets an ERROR
 * and keeps its connection and its other jobs. Closing the connection instead requeued
 * the job to the next worker, which sent the same result: 37 runs in 25 s, and no answer.
 */
export function oversizedWork(
  ctx: ServerContext,
  session: Session,
  type: PacketType,
  handle: Buffer,
  size: number,
  maxFrameSize: number,
): void {
  const what = `${packetTypeName(type)} of ${size} bytes exceeds the server's limit of ${maxFrameSize} (maxFrameSize)`;
  const job = ctx.engine.owned(session, handle);
  ctx.logger.warn(
    {
      conn: session.id,
      peer: `${session.ip}:${session.port}`,
      jobHandle: handle.toString('latin1'),
      function: job?.fn.name,
      packetType: type,
      bytes: size,
      maxFrameSize,
    },
    job === undefined
      ? `dropped a ${packetTypeName(type)} over the frame limit for a job this connection does not run`
      : `failing a job: its ${packetTypeName(type)} is over the frame limit`,
  );
  if (job !== undefined) ctx.engine.failRunning(job, Buffer.from(`gworker server: ${what}`));
  session.send(errorFrame('ARGUMENT_TOO_LARGE', `${what}; job ${handle.toString('latin1')} failed`));
}
