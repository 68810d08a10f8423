/**
 * Every error gworker raises is a GearmanError with a stable `code`; tests and callers
 * branch on the code, never on the message text.
 */
export const ErrorCode = {
  PROTOCOL: 'GEARMAN_ERR_PROTOCOL',
  FRAME_TOO_LARGE: 'GEARMAN_ERR_FRAME_TOO_LARGE',
  CONNECTION_CLOSED: 'GEARMAN_ERR_CONNECTION_CLOSED',
  CONNECT_FAILED: 'GEARMAN_ERR_CONNECT_FAILED',
  NO_SERVERS: 'GEARMAN_ERR_NO_SERVERS',
  TIMEOUT: 'GEARMAN_ERR_TIMEOUT',
  JOB_FAILED: 'GEARMAN_ERR_JOB_FAILED',
  JOB_EXCEPTION: 'GEARMAN_ERR_JOB_EXCEPTION',
  QUEUE_FULL: 'GEARMAN_ERR_QUEUE_FULL',
  SERVER_ERROR: 'GEARMAN_ERR_SERVER',
  ADMIN: 'GEARMAN_ERR_ADMIN',
  JOB_STATE: 'GEARMAN_ERR_JOB_STATE',
  CLOSED: 'GEARMAN_ERR_CLOSED',
  ABORTED: 'GEARMAN_ERR_ABORTED',
  MANIFEST: 'GEARMAN_ERR_MANIFEST',
  HANDLER_LOAD: 'GEARMAN_ERR_HANDLER_LOAD',
  /** The supervisor's control API refused a request or could not be reached. */
  CONTROL: 'GEARMAN_ERR_CONTROL',
  /** The server's job store cannot be opened, read or written. */
  STORE: 'GEARMAN_ERR_STORE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GearmanError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GearmanError';
    this.code = code;
  }
}

/**
 * What was wrong with the bytes: see {@link ProtocolError.reason}. Set where the error is
 * thrown, so that code which must tell the kinds apart (the server's ERROR reply) switches
 * on it rather than on the message text.
 */
export type ProtocolFailure =
  /** The magic is neither `\0REQ` nor `\0RES`, or not the one this stream expects. */
  | 'bad-magic'
  /** A packet type gearman does not define. */
  | 'unknown-type'
  /** A frame over the size limit (the error's code is FRAME_TOO_LARGE). */
  | 'too-large'
  /** Fewer NUL-separated arguments than the packet type has. */
  | 'missing-arguments'
  /** A text admin line over the line limit. */
  | 'line-too-long'
  /** An admin reply that does not read as the command's reply. */
  | 'malformed-reply';

/** Malformed bytes on the wire: bad magic, an unknown type, missing arguments. */
export class ProtocolError extends GearmanError {
  /** What was wrong (code FRAME_TOO_LARGE for `too-large`, PROTOCOL for the others). */
  readonly reason: ProtocolFailure;
  /** Byte offset in the connection's stream where the bad frame starts. */
  readonly offset: number;
  readonly packetType: number | undefined;
  /** Up to 32 bytes of the offending input, as hex, for logs. */
  readonly preview: string;
  constructor(
    message: string,
    details: { reason: ProtocolFailure; offset: number; packetType?: number; preview?: string },
    options?: ErrorOptions,
  ) {
    const code = details.reason === 'too-large' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.PROTOCOL;
    super(code, `${message} (at byte ${details.offset})`, options);
    this.name = 'ProtocolError';
    this.reason = details.reason;
    this.offset = details.offset;
    this.packetType = details.packetType;
    this.preview = details.preview ?? '';
  }
}

export class ConnectionError extends GearmanError {
  readonly server: string | undefined;
  constructor(code: ErrorCode, message: string, server?: string, options?: ErrorOptions) {
    super(code, server ? `${message} (${server})` : message, options);
    this.name = 'ConnectionError';
    this.server = server;
  }
}

export class TimeoutError extends GearmanError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
    this.name = 'TimeoutError';
  }
}

/** The server sent an ERROR packet: `serverCode` is gearmand's name, e.g. `QUEUE_ERROR`. */
export class ServerError extends GearmanError {
  readonly serverCode: string;
  readonly serverMessage: string;
  constructor(serverCode: string, serverMessage: string, options?: ErrorOptions) {
    super(
      serverCode === 'QUEUE_ERROR' ? ErrorCode.QUEUE_FULL : ErrorCode.SERVER_ERROR,
      `server error ${serverCode}: ${serverMessage}`,
      options,
    );
    this.name = 'ServerError';
    this.serverCode = serverCode;
    this.serverMessage = serverMessage;
  }
}

/** The worker sent WORK_FAIL (or a worker threw and this client did not ask for exceptions). */
export class JobFailedError extends GearmanError {
  readonly jobHandle: string;
  constructor(jobHandle: string, message = `job ${jobHandle} failed`) {
    super(ErrorCode.JOB_FAILED, message);
    this.name = 'JobFailedError';
    this.jobHandle = jobHandle;
  }
}

/** The worker sent WORK_EXCEPTION; `payload` is what it sent, usually an error message. */
export class JobExceptionError extends GearmanError {
  readonly jobHandle: string;
  readonly payload: Buffer;
  constructor(jobHandle: string, payload: Buffer) {
    super(ErrorCode.JOB_EXCEPTION, `job ${jobHandle} raised an exception: ${payload.toString('utf8')}`);
    this.name = 'JobExceptionError';
    this.jobHandle = jobHandle;
    this.payload = payload;
  }
}

/** An admin command answered `ERR <code> <text>`. */
export class AdminError extends GearmanError {
  readonly adminCode: string;
  readonly adminMessage: string;
  constructor(adminCode: string, adminMessage: string) {
    super(ErrorCode.ADMIN, `admin error ${adminCode}${adminMessage ? `: ${adminMessage}` : ''}`);
    this.name = 'AdminError';
    this.adminCode = adminCode;
    this.adminMessage = adminMessage;
  }
}

/** Why a job store is unusable: see {@link JobStoreError.reason}. */
export type JobStoreFailure = 'corrupt' | 'locked' | 'unwritable' | 'full' | 'version' | 'driver' | 'io';

/**
 * A job store cannot be used: the file is not a database or is damaged (`corrupt`),
 * another process holds it (`locked`), it cannot be created or written (`unwritable`:
 * permissions, a read-only file system), the disk or a quota is full (`full`), a newer
 * gworker wrote it (`version`), the SQLite driver (better-sqlite3) is missing or its native
 * addon does not load (`driver`), or another I/O error (`io`).
 */
export class JobStoreError extends GearmanError {
  readonly reason: JobStoreFailure;
  /** The store's location (a file path), when it has one. */
  readonly path: string | undefined;
  constructor(reason: JobStoreFailure, message: string, path?: string, options?: ErrorOptions) {
    super(ErrorCode.STORE, message, options);
    this.name = 'JobStoreError';
    this.reason = reason;
    this.path = path;
  }
}
