import { PacketType } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/encoder.js';

/** An ERROR packet as gearmand sends it: its gearman_return_t name without `GEARMAN_`, then the text. */
export function errorFrame(code: string, text: string): Buffer {
  return encodeResponse(PacketType.ERROR, [code, text]);
}

/**
 * gearmand 1.1.20's exact ERROR replies (libgearman-server/server.cc), encoded once.
 * Checked byte for byte against the real server.
 */
export const ErrorReply = {
  /** A submit over a function's `maxqueue` limit, or over the server's job limit. */
  QUEUE_FULL: errorFrame('QUEUE_ERROR', 'Job queue is full'),
  UNIQUE_TOO_LARGE: errorFrame('ARGUMENT_TOO_LARGE', 'Unique value too large'),
  /** SUBMIT_JOB_SCHED, ALL_YOURS and every response-type packet. */
  NOT_EXPECTED: errorFrame('INVALID_COMMAND', 'Command not expected'),
  /** A packet with the `\0RES` magic. */
  RESPONSE_MAGIC: errorFrame('INVALID_MAGIC', 'Request magic expected'),
  UNKNOWN_OPTION: errorFrame('UNKNOWN_OPTION', 'Server does not recognize given option'),
  /** WORK_STATUS, WORK_COMPLETE, WORK_FAIL for a job this connection does not run. */
  RESULT_NOT_FOUND: errorFrame('JOB_NOT_FOUND', 'Job given in work result not found'),
  /** WORK_DATA, WORK_WARNING for a job this connection does not run. */
  DATA_NOT_FOUND: errorFrame('JOB_NOT_FOUND', 'Job does not exist on server'),
  EXCEPTION_NOT_FOUND: errorFrame('JOB_NOT_FOUND', 'An exception was received for a job that does not exist'),
  /** WORK_FAIL with a handle of 64 bytes or more. */
  HANDLE_TOO_LARGE: errorFrame(
    'ARGUMENT_TOO_LARGE',
    'Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf',
  ),
} as const;
