import { MAX_UNIQUE_SIZE, PacketType } from '../../protocol/constants.js';
import { encodeResponse } from '../../protocol/encoder.js';
import { arg, type PacketHandler } from '../context.js';
import { JobPriority } from '../job.js';
import { parseCInteger } from '../numbers.js';
import { asciiLower } from '../registry.js';
import { ErrorReply } from '../replies.js';

/** gearmand's GEARMAND_OPTION_SIZE: an option name this long or longer is unknown. */
const kMaxOptionSize = 64;
/** gearmand's GEARMAND_SERVER_CON_ID_SIZE less its NUL. */
const kMaxClientIdSize = 127;

interface SubmitKind {
  readonly priority: JobPriority;
  readonly background: boolean;
}

const kSubmitKinds: Partial<Record<PacketType, SubmitKind>> = {
  [PacketType.SUBMIT_JOB]: { priority: JobPriority.NORMAL, background: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: JobPriority.NORMAL, background: true },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: JobPriority.HIGH, background: false },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: JobPriority.HIGH, background: true },
  [PacketType.SUBMIT_JOB_LOW]: { priority: JobPriority.LOW, background: false },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: JobPriority.LOW, background: true },
};

/** SUBMIT_JOB, _BG, _HIGH, _HIGH_BG, _LOW, _LOW_BG: function, unique, data. */
const submit: PacketHandler = (ctx, session, packet) => {
  const kind = kSubmitKinds[packet.type] as SubmitKind;
  if (packet.argLength(1) > MAX_UNIQUE_SIZE) {
    session.send(ErrorReply.UNIQUE_TOO_LARGE);
    return;
  }
  const record = session.submitRecord.reset(ctx.registry.getOrCreateArg(packet, 0));
  record.unique = arg(packet, 1);
  // The payload stays where it arrived: no view of it is made for the job.
  record.bytes = packet.bytes;
  record.dataStart = packet.argStart(2);
  record.dataEnd = packet.argEnd(2);
  record.priority = kind.priority;
  record.background = kind.background;
  ctx.engine.submit(session, record);
};

/**
 * SUBMIT_JOB_EPOCH: function, unique, epoch seconds, data; a normal-priority background
 * job. The time is read like strtoll: anything that is not a number is 0, "run now".
 */
const submitEpoch: PacketHandler = (ctx, session, packet) => {
  const unique = arg(packet, 1);
  if (unique.length > MAX_UNIQUE_SIZE) {
    session.send(ErrorReply.UNIQUE_TOO_LARGE);
    return;
  }
  const record = session.submitRecord.reset(ctx.registry.getOrCreateArg(packet, 0));
  record.unique = unique;
  record.setData(arg(packet, 3));
  record.background = true;
  record.when = Math.max(parseCInteger(arg(packet, 2)), 0);
  ctx.engine.submit(session, record);
};

/**
 * SUBMIT_REDUCE_JOB[_BACKGROUND]. libgearman and gearmand frame it as function, unique,
 * reducer, an empty "aggregator", then data (command.cc lists 4 arguments before the
 * data), while PROTOCOL documents no aggregator: the aggregator is split off when its
 * NUL is there, and the rest is the data.
 */
function submitReduce(background: boolean): PacketHandler {
  return (ctx, session, packet) => {
    const unique = arg(packet, 1);
    const reducer = arg(packet, 2);
    // gearmand checks the reducer against the unique limit (and its message says unique).
    if (unique.length > MAX_UNIQUE_SIZE || reducer.length > MAX_UNIQUE_SIZE) {
      session.send(ErrorReply.UNIQUE_TOO_LARGE);
      return;
    }
    const rest = arg(packet, 3);
    const nul = rest.indexOf(0);
    const record = session.submitRecord.reset(ctx.registry.getOrCreateArg(packet, 0));
    record.unique = unique;
    record.setData(nul === -1 ? rest : rest.subarray(nul + 1));
    record.reducer = reducer;
    record.background = background;
    ctx.engine.submit(session, record);
  };
}

const getStatus: PacketHandler = (ctx, session, packet) => {
  session.send(ctx.engine.statusFrame(arg(packet, 0)));
};

const getStatusUnique: PacketHandler = (ctx, session, packet) => {
  session.send(ctx.engine.statusUniqueFrame(arg(packet, 0)));
};

/** OPTION_REQ: only `exceptions` (any case) exists; the reply echoes the name as sent. */
const optionReq: PacketHandler = (_ctx, session, packet) => {
  const name = arg(packet, 0);
  if (name.length < kMaxOptionSize && asciiLower(name.toString('latin1')) === 'exceptions') {
    session.exceptions = true;
    session.send(encodeResponse(PacketType.OPTION_RES, [name]));
  } else {
    session.send(ErrorReply.UNKNOWN_OPTION);
  }
};

const echo: PacketHandler = (_ctx, session, packet) => {
  session.send(encodeResponse(PacketType.ECHO_RES, [arg(packet, 0)]));
};

/** SET_CLIENT_ID: kept for `workers`, cut at 127 bytes or a NUL, as gearmand stores it. */
const setClientId: PacketHandler = (_ctx, session, packet) => {
  let id = arg(packet, 0);
  const nul = id.indexOf(0);
  if (nul !== -1) id = id.subarray(0, nul);
  session.clientId = id.subarray(0, kMaxClientIdSize).toString('latin1');
};

export const clientHandlers: Partial<Record<PacketType, PacketHandler>> = {
  [PacketType.SUBMIT_JOB]: submit,
  [PacketType.SUBMIT_JOB_BG]: submit,
  [PacketType.SUBMIT_JOB_HIGH]: submit,
  [PacketType.SUBMIT_JOB_HIGH_BG]: submit,
  [PacketType.SUBMIT_JOB_LOW]: submit,
  [PacketType.SUBMIT_JOB_LOW_BG]: submit,
  [PacketType.SUBMIT_JOB_EPOCH]: submitEpoch,
  [PacketType.SUBMIT_REDUCE_JOB]: submitReduce(false),
  [PacketType.SUBMIT_REDUCE_JOB_BACKGROUND]: submitReduce(true),
  [PacketType.GET_STATUS]: getStatus,
  [PacketType.GET_STATUS_UNIQUE]: getStatusUnique,
  [PacketType.OPTION_REQ]: optionReq,
  [PacketType.ECHO_REQ]: echo,
  [PacketType.SET_CLIENT_ID]: setClientId,
};
