import { MAGIC_RES, PacketType } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/encoder.js';
import type { Job } from './job.js';

/**
 * A response frame whose arguments are latin1 strings (one byte per character: the
 * server keeps handles and names so) or bytes, built in one allocation. The server's
 * hottest replies (JOB_CREATED, JOB_ASSIGN*) go through here rather than the general
 * encoder: no UTF-8 sizing, no per-argument checks. Every argument but the last comes
 * from a NUL-free source (a handle, or a non-final packet argument).
 */
function frameOf(type: PacketType, args: ReadonlyArray<string | Buffer>): Buffer {
  let size = args.length - 1;
  for (const arg of args) size += arg.length;
  const frame = Buffer.allocUnsafe(12 + size);
  frame.writeUInt32BE(MAGIC_RES, 0);
  frame.writeUInt32BE(type, 4);
  frame.writeUInt32BE(size, 8);
  let at = 12;
  for (let i = 0; i < args.length; i++) {
    if (i > 0) frame[at++] = 0;
    const arg = args[i] as string | Buffer;
    if (typeof arg === 'string') at += frame.write(arg, at, 'latin1');
    else at += arg.copy(frame, at);
  }
  return frame;
}

export function createdFrame(job: Job): Buffer {
  return frameOf(PacketType.JOB_CREATED, [job.handle]);
}

export type GrabKind = 'plain' | 'uniq' | 'all';

/** JOB_ASSIGN, JOB_ASSIGN_UNIQ, or for GRAB_JOB_ALL JOB_ASSIGN_ALL when the job has a reducer. */
export function assignFrame(job: Job, kind: GrabKind): Buffer {
  const name = job.fn.nameBytes;
  if (kind === 'plain') return frameOf(PacketType.JOB_ASSIGN, [job.handle, name, job.data]);
  if (kind === 'all' && job.reducer.length > 0) {
    return frameOf(PacketType.JOB_ASSIGN_ALL, [job.handle, name, job.unique, job.reducer, job.data]);
  }
  return frameOf(PacketType.JOB_ASSIGN_UNIQ, [job.handle, name, job.unique, job.data]);
}

/** WORK_COMPLETE, WORK_DATA, WORK_WARNING or WORK_EXCEPTION of a job, for its clients. */
export function resultFrame(type: PacketType, job: Job, data: Buffer): Buffer {
  return frameOf(type, [job.handle, data]);
}

export function failFrame(job: Job): Buffer {
  return frameOf(PacketType.WORK_FAIL, [job.handle]);
}

/** The bytes up to the first NUL: how gearmand reads a handle or unique it copies with "%.*s". */
export function cString(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/** STATUS_RES for GET_STATUS: zeros for a job the server does not hold. */
export function statusFrame(handle: Buffer, job: Job | undefined): Buffer {
  if (job === undefined) return encodeResponse(PacketType.STATUS_RES, [handle, '0', '0', '0', '0']);
  return encodeResponse(PacketType.STATUS_RES, [
    handle,
    '1',
    job.worker === null ? '0' : '1',
    String(job.numerator),
    String(job.denominator),
  ]);
}

/** STATUS_RES_UNIQUE for GET_STATUS_UNIQUE: the unique first, the waiting-client count last. */
export function statusUniqueFrame(unique: Buffer, job: Job | undefined): Buffer {
  if (job === undefined)
    return encodeResponse(PacketType.STATUS_RES_UNIQUE, [unique, '0', '0', '0', '0', '0']);
  return encodeResponse(PacketType.STATUS_RES_UNIQUE, [
    unique,
    '1',
    job.worker === null ? '0' : '1',
    String(job.numerator),
    String(job.denominator),
    String(job.clients.length),
  ]);
}
