import { PacketType } from './constants.js';
import { encodeRequest, encodeResponse } from './encoder.js';

/**
 * Frames without arguments never change, so they are encoded once. Callers must not
 * mutate them (socket writes do not).
 */
export const FRAME_NOOP = encodeResponse(PacketType.NOOP);
export const FRAME_NO_JOB = encodeResponse(PacketType.NO_JOB);
export const FRAME_PRE_SLEEP = encodeRequest(PacketType.PRE_SLEEP);
export const FRAME_GRAB_JOB = encodeRequest(PacketType.GRAB_JOB);
export const FRAME_GRAB_JOB_UNIQ = encodeRequest(PacketType.GRAB_JOB_UNIQ);
export const FRAME_GRAB_JOB_ALL = encodeRequest(PacketType.GRAB_JOB_ALL);
export const FRAME_RESET_ABILITIES = encodeRequest(PacketType.RESET_ABILITIES);
