/**
 * Packet numbers and argument counts of the Gearman binary protocol, as in gearmand's
 * PROTOCOL file and libgearman-1.0/protocol.h (1.1.20). Type 5 was never assigned.
 */
export const PacketType = {
  CAN_DO: 1,
  CANT_DO: 2,
  RESET_ABILITIES: 3,
  PRE_SLEEP: 4,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  GRAB_JOB: 9,
  NO_JOB: 10,
  JOB_ASSIGN: 11,
  WORK_STATUS: 12,
  WORK_COMPLETE: 13,
  WORK_FAIL: 14,
  GET_STATUS: 15,
  ECHO_REQ: 16,
  ECHO_RES: 17,
  SUBMIT_JOB_BG: 18,
  ERROR: 19,
  STATUS_RES: 20,
  SUBMIT_JOB_HIGH: 21,
  SET_CLIENT_ID: 22,
  CAN_DO_TIMEOUT: 23,
  ALL_YOURS: 24,
  WORK_EXCEPTION: 25,
  OPTION_REQ: 26,
  OPTION_RES: 27,
  WORK_DATA: 28,
  WORK_WARNING: 29,
  GRAB_JOB_UNIQ: 30,
  JOB_ASSIGN_UNIQ: 31,
  SUBMIT_JOB_HIGH_BG: 32,
  SUBMIT_JOB_LOW: 33,
  SUBMIT_JOB_LOW_BG: 34,
  SUBMIT_JOB_SCHED: 35,
  SUBMIT_JOB_EPOCH: 36,
  SUBMIT_REDUCE_JOB: 37,
  SUBMIT_REDUCE_JOB_BACKGROUND: 38,
  GRAB_JOB_ALL: 39,
  JOB_ASSIGN_ALL: 40,
  GET_STATUS_UNIQUE: 41,
  STATUS_RES_UNIQUE: 42,
} as const;
export type PacketTypeName = keyof typeof PacketType;
export type PacketType = (typeof PacketType)[PacketTypeName];

/** `\0REQ`: everything sent to a server. */
export const MAGIC_REQ = 0x00524551;
/** `\0RES`: everything a server sends. */
export const MAGIC_RES = 0x00524553;
export type Magic = 'REQ' | 'RES';

export const HEADER_SIZE = 12;
/**
 * The default limit on a frame's data, read (refused before a byte of it is buffered)
 * and, by the Worker, written; `gworker server`'s default too. gearmand 1.1.20 has none:
 * it took a 300 MiB WORK_COMPLETE and passed it on.
 */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/** Limits from libgearman-1.0/limits.h (1.1.20). */
export const MAX_UNIQUE_SIZE = 64;
export const MAX_FUNCTION_SIZE = 512;
export const MAX_JOB_HANDLE_SIZE = 64;
export const MAX_IDENTIFIER_SIZE = 254;

/**
 * How many NUL-separated arguments each packet carries; the last one runs to the end of
 * the frame and may itself contain NULs (it is the opaque data).
 */
export const ARG_COUNT: Readonly<Record<PacketType, number>> = {
  [PacketType.CAN_DO]: 1,
  [PacketType.CANT_DO]: 1,
  [PacketType.RESET_ABILITIES]: 0,
  [PacketType.PRE_SLEEP]: 0,
  [PacketType.NOOP]: 0,
  [PacketType.SUBMIT_JOB]: 3,
  [PacketType.JOB_CREATED]: 1,
  [PacketType.GRAB_JOB]: 0,
  [PacketType.NO_JOB]: 0,
  [PacketType.JOB_ASSIGN]: 3,
  [PacketType.WORK_STATUS]: 3,
  [PacketType.WORK_COMPLETE]: 2,
  [PacketType.WORK_FAIL]: 1,
  [PacketType.GET_STATUS]: 1,
  [PacketType.ECHO_REQ]: 1,
  [PacketType.ECHO_RES]: 1,
  [PacketType.SUBMIT_JOB_BG]: 3,
  [PacketType.ERROR]: 2,
  [PacketType.STATUS_RES]: 5,
  [PacketType.SUBMIT_JOB_HIGH]: 3,
  [PacketType.SET_CLIENT_ID]: 1,
  [PacketType.CAN_DO_TIMEOUT]: 2,
  [PacketType.ALL_YOURS]: 0,
  [PacketType.WORK_EXCEPTION]: 2,
  [PacketType.OPTION_REQ]: 1,
  [PacketType.OPTION_RES]: 1,
  [PacketType.WORK_DATA]: 2,
  [PacketType.WORK_WARNING]: 2,
  [PacketType.GRAB_JOB_UNIQ]: 0,
  [PacketType.JOB_ASSIGN_UNIQ]: 4,
  [PacketType.SUBMIT_JOB_HIGH_BG]: 3,
  [PacketType.SUBMIT_JOB_LOW]: 3,
  [PacketType.SUBMIT_JOB_LOW_BG]: 3,
  [PacketType.SUBMIT_JOB_SCHED]: 8,
  [PacketType.SUBMIT_JOB_EPOCH]: 4,
  [PacketType.SUBMIT_REDUCE_JOB]: 4,
  [PacketType.SUBMIT_REDUCE_JOB_BACKGROUND]: 4,
  [PacketType.GRAB_JOB_ALL]: 0,
  [PacketType.JOB_ASSIGN_ALL]: 5,
  [PacketType.GET_STATUS_UNIQUE]: 1,
  [PacketType.STATUS_RES_UNIQUE]: 6,
};

const NAMES: Record<number, PacketTypeName> = Object.fromEntries(
  Object.entries(PacketType).map(([name, num]) => [num, name as PacketTypeName]),
);

export function isPacketType(type: number): type is PacketType {
  return NAMES[type] !== undefined;
}

/** `JOB_ASSIGN` for 11, `UNKNOWN(99)` for anything unassigned. */
export function packetTypeName(type: number): string {
  return NAMES[type] ?? `UNKNOWN(${type})`;
}
