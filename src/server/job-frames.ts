import { HEADER_SIZE, PacketType } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/encoder.js';
import type { ServerJob } from './job.js';

/** `\0RES`, the type and the data size: written byte by byte, cheaper than three writeUInt32BE. */
function writeHeader(frame: Buffer, at: number, type: PacketType, size: number): void {
  frame[at] = 0;
  frame[at + 1] = 0x52;
  frame[at + 2] = 0x45;
  frame[at + 3] = 0x53;
  frame[at + 4] = type >>> 24;
  frame[at + 5] = (type >>> 16) & 0xff;
  frame[at + 6] = (type >>> 8) & 0xff;
  frame[at + 7] = type & 0xff;
  frame[at + 8] = size >>> 24;
  frame[at + 9] = (size >>> 16) & 0xff;
  frame[at + 10] = (size >>> 8) & 0xff;
  frame[at + 11] = size & 0xff;
}

/**
 * A response frame of the job's handle then `args`, latin1 strings (one byte per
 * character: the server keeps uniques so) or bytes, built in one allocation. The
 * server's hottest replies (JOB_CREATED, JOB_ASSIGN*) go through here rather than the
 * general encoder: no UTF-8 sizing, no per-argument checks, the handle written from its
 * number. Every argument but the last comes from a NUL-free source (a handle, or a
 * non-final packet argument).
 */
function frameOf(type: PacketType, job: ServerJob, args: ReadonlyArray<string | Buffer>): Buffer {
  let size = job.handleLength + args.length;
  for (const arg of args) size += arg.length;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(frame, 0, type, size);
  let at = job.writeHandle(frame, HEADER_SIZE);
  for (const arg of args) {
    frame[at++] = 0;
    if (typeof arg === 'string') at += arg.length === 0 ? 0 : frame.write(arg, at, 'latin1');
    else at += arg.copy(frame, at);
  }
  return frame;
}

/** The size of a frame whose only argument is the job's handle (see writeHandleFrame). */
export function handleFrameSize(job: ServerJob): number {
  return HEADER_SIZE + job.handleLength;
}

/** Writes a frame whose only argument is the job's handle at `at`; `size` is handleFrameSize(job). */
export function writeHandleFrame(
  target: Buffer,
  at: number,
  type: PacketType,
  job: ServerJob,
  size: number,
): void {
  writeHeader(target, at, type, size - HEADER_SIZE);
  job.writeHandle(target, at + HEADER_SIZE);
}

/** A frame whose only argument is the job's handle (JOB_CREATED, WORK_FAIL), in a Buffer of its own. */
export function handleFrame(type: PacketType, job: ServerJob): Buffer {
  const size = handleFrameSize(job);
  const frame = Buffer.allocUnsafe(size);
  writeHandleFrame(frame, 0, type, job, size);
  return frame;
}

export function createdFrame(job: ServerJob): Buffer {
  return handleFrame(PacketType.JOB_CREATED, job);
}

export type GrabKind = 'plain' | 'uniq' | 'all';

/** JOB_ASSIGN, JOB_ASSIGN_UNIQ, or for GRAB_JOB_ALL JOB_ASSIGN_ALL when the job has a reducer. */
export function assignFrame(job: ServerJob, kind: GrabKind): Buffer {
  const name = job.fn.nameBytes;
  if (kind === 'plain') return frameOf(PacketType.JOB_ASSIGN, job, [name, job.data]);
  if (kind === 'all' && job.reducer.length > 0) {
    return frameOf(PacketType.JOB_ASSIGN_ALL, job, [name, job.unique, job.reducer, job.data]);
  }
  return frameOf(PacketType.JOB_ASSIGN_UNIQ, job, [name, job.unique, job.data]);
}

/** WORK_COMPLETE, WORK_DATA, WORK_WARNING or WORK_EXCEPTION of a job, for its clients. */
export function resultFrame(type: PacketType, job: ServerJob, data: Buffer): Buffer {
  return frameOf(type, job, [data]);
}

export function failFrame(job: ServerJob): Buffer {
  return handleFrame(PacketType.WORK_FAIL, job);
}

/** The bytes up to the first NUL: how gearmand reads a handle or unique it copies with "%.*s". */
export function cString(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/** STATUS_RES for GET_STATUS: zeros for a job the server does not hold. */
export function statusFrame(handle: Buffer, job: ServerJob | undefined): Buffer {
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
export function statusUniqueFrame(unique: Buffer, job: ServerJob | undefined): Buffer {
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
