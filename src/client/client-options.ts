import { MAX_FRAME_SIZE_LIMIT } from '../limits.js';
import type { Logger } from '../log.js';
import { parseServerAddress, type ServerAddress } from '../net/address.js';
import type { BackoffPolicy } from '../net/backoff.js';
import { checkTimeout } from './submit-options.js';

export interface ClientOptions {
  /**
   * Job servers, as `host:port` strings or addresses (with `tls` for TLS). With several,
   * a job goes to the server its unique id hashes to (see server-picker.ts) and fails
   * over to the next one in this order when that server is down.
   * @defaultValue ['127.0.0.1:4730']
   */
  readonly servers?: ReadonlyArray<string | ServerAddress>;
  /**
   * Send OPTION_REQ `exceptions` on every connection, so a worker's WORK_EXCEPTION reaches
   * this client as a JobExceptionError with its payload (otherwise gearmand turns it into
   * WORK_FAIL, a JobFailedError).
   * @defaultValue true
   */
  readonly exceptions?: boolean;
  /** @defaultValue 5000 */
  readonly connectTimeoutMs?: number;
  /** Reconnect policy of each connection, or `false`. @defaultValue exponential backoff, 100 ms to 10 s */
  readonly reconnect?: BackoffPolicy | false;
  /** Largest frame accepted from a server, in bytes. @defaultValue 64 MiB */
  readonly maxFrameSize?: number;
  readonly logger?: Logger;
}

/** Selects one of the client's servers for a status or echo request. */
export interface ServerOption {
  /** One of the client's servers, as given or as `host:port`. */
  readonly server?: string | ServerAddress;
}

/** Checks the options (TypeError/RangeError) and returns the parsed server addresses. */
export function checkClientOptions(options: ClientOptions): ServerAddress[] {
  const specs = options.servers ?? ['127.0.0.1:4730'];
  if (!Array.isArray(specs) || specs.length === 0)
    throw new RangeError('servers must list at least one server');
  if (options.exceptions !== undefined && typeof options.exceptions !== 'boolean') {
    throw new TypeError('exceptions must be a boolean');
  }
  if (options.connectTimeoutMs !== undefined) checkTimeout(options.connectTimeoutMs, 'connectTimeoutMs');
  const maxFrameSize = options.maxFrameSize;
  if (
    maxFrameSize !== undefined &&
    !(Number.isInteger(maxFrameSize) && maxFrameSize > 0 && maxFrameSize <= MAX_FRAME_SIZE_LIMIT)
  ) {
    throw new RangeError(
      `maxFrameSize must be an integer from 1 to ${MAX_FRAME_SIZE_LIMIT}, got ${maxFrameSize}`,
    );
  }
  return specs.map((spec) => parseServerAddress(spec));
}
