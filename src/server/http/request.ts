import type { IncomingHttpHeaders } from 'node:http';
import { MAX_TIMER_MS } from '../../limits.js';
import { MAX_FUNCTION_SIZE, MAX_UNIQUE_SIZE } from '../../protocol/constants.js';
import { JobPriority } from '../job.js';

/** A request the gateway refuses before it submits anything: its status and a one-line reason. */
export class HttpRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpRequestError';
    this.status = status;
  }
}

/** What the X-Gearman-* headers ask for. */
export interface JobHeaders {
  readonly unique: Buffer;
  readonly background: boolean;
  readonly priority: JobPriority;
  /** X-Gearman-Timeout in milliseconds; 0 for none (wait as long as it takes, as gearmand). */
  readonly timeoutMs: number;
}

/** The HTTP plugin's default unique (gearmand http/protocol.cc): identical bodies coalesce. */
const kDefaultUnique = Buffer.from('-');
const kMaxTimeoutMs = MAX_TIMER_MS;
const kPriorities: Record<string, JobPriority> = {
  high: JobPriority.HIGH,
  normal: JobPriority.NORMAL,
  low: JobPriority.LOW,
};

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Reads the X-Gearman-* headers. Unlike gearmand, which ignores values it does not know,
 * a value that means nothing is refused (400), so a typo never silently turns a
 * background job into a foreground one or drops a priority.
 */
export function parseJobHeaders(headers: IncomingHttpHeaders): JobHeaders {
  const uniqueText = header(headers, 'x-gearman-unique');
  // Node hands header bytes over as latin1 characters: this gives the bytes back.
  const unique = uniqueText === undefined ? kDefaultUnique : Buffer.from(uniqueText, 'latin1');
  if (unique.length > MAX_UNIQUE_SIZE) {
    throw new HttpRequestError(400, `X-Gearman-Unique is over ${MAX_UNIQUE_SIZE} bytes`);
  }
  const backgroundText = header(headers, 'x-gearman-background')?.trim().toLowerCase();
  let background = false;
  if (backgroundText === 'true' || backgroundText === '1' || backgroundText === 'yes') background = true;
  else if (
    !(
      backgroundText === undefined ||
      backgroundText === 'false' ||
      backgroundText === '0' ||
      backgroundText === 'no'
    )
  ) {
    throw new HttpRequestError(400, 'X-Gearman-Background must be true or false');
  }
  const priorityText = header(headers, 'x-gearman-priority')?.trim().toLowerCase();
  const priority = priorityText === undefined ? JobPriority.NORMAL : kPriorities[priorityText];
  if (priority === undefined)
    throw new HttpRequestError(400, 'X-Gearman-Priority must be high, normal or low');
  const timeoutText = header(headers, 'x-gearman-timeout')?.trim();
  let timeoutMs = 0;
  if (timeoutText !== undefined) {
    timeoutMs = /^\d{1,10}$/.test(timeoutText) ? Number(timeoutText) : 0;
    if (timeoutMs < 1 || timeoutMs > kMaxTimeoutMs) {
      throw new HttpRequestError(
        400,
        `X-Gearman-Timeout must be a number of milliseconds from 1 to ${kMaxTimeoutMs}`,
      );
    }
  }
  return { unique, background, priority, timeoutMs };
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * The function a request names: its path after the first `/`, percent-decoded to bytes
 * (the binary protocol's names are bytes, and libgearman workers register UTF-8 ones),
 * without the query string. Null for `/` itself. A name with a NUL, a bad escape or over
 * gearmand's 512-byte limit is refused.
 */
export function functionFromTarget(target: string | undefined): Buffer | null {
  if (target === undefined || !target.startsWith('/')) {
    throw new HttpRequestError(400, 'the request target must be a path: /FUNCTION');
  }
  const end = target.search(/[?#]/);
  const raw = Buffer.from(end === -1 ? target.slice(1) : target.slice(1, end), 'latin1');
  if (raw.length === 0) return null;
  const name = Buffer.allocUnsafe(raw.length);
  let size = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] as number;
    if (byte !== 0x25) {
      name[size++] = byte;
      continue;
    }
    const high = hexValue(raw[i + 1] ?? -1);
    const low = hexValue(raw[i + 2] ?? -1);
    if (high < 0 || low < 0) throw new HttpRequestError(400, 'the function name has a bad %-escape');
    name[size++] = high * 16 + low;
    i += 2;
  }
  const fn = name.subarray(0, size);
  if (fn.includes(0)) throw new HttpRequestError(400, 'the function name must not contain NUL');
  if (fn.length > MAX_FUNCTION_SIZE) {
    throw new HttpRequestError(400, `the function name is over ${MAX_FUNCTION_SIZE} bytes`);
  }
  return fn;
}
