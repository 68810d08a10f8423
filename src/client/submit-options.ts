import { MAX_TIMER_MS } from '../limits.js';
import { MAX_FUNCTION_SIZE, MAX_UNIQUE_SIZE, PacketType } from '../protocol/constants.js';

/** Gearman's three queue levels: within a function, high jobs run first, then normal, then low. */
export type Priority = 'high' | 'normal' | 'low';

/** Options of a foreground submit ({@link Client.submit}). */
export interface SubmitOptions {
  /**
   * The job's unique id. Jobs of one function with the same unique are coalesced by the
   * server: a second submit attaches to the queued or running job, gets the same handle and
   * the same result, and its payload is ignored. `'-'` asks the server to use the payload
   * itself as the unique (identical payloads coalesce). At most 64 bytes of UTF-8.
   * @defaultValue none (an empty unique, which never coalesces)
   */
  readonly unique?: string;
  /** @defaultValue 'normal' */
  readonly priority?: Priority;
  /**
   * Fail the job with a TimeoutError when it has not finished this many milliseconds after
   * the submit. The server's job is not cancelled (the protocol cannot); its result is dropped.
   * @defaultValue no timeout
   */
  readonly timeoutMs?: number;
  /** Aborting fails the job with code GEARMAN_ERR_ABORTED; as with a timeout, the server's job goes on. */
  readonly signal?: AbortSignal;
}

/** Options of a background submit ({@link Client.submitBackground}). */
export interface BackgroundOptions {
  /** As in {@link SubmitOptions.unique}. @defaultValue none */
  readonly unique?: string;
  /** @defaultValue 'normal' */
  readonly priority?: Priority;
  /**
   * Run the job no earlier than this time (SUBMIT_JOB_EPOCH). A number is seconds since the
   * Unix epoch. Epoch jobs have normal priority, so `priority` must be left out or 'normal'.
   * Note that gearmand 1.1.x does not wake sleeping workers when the time comes; they pick
   * the job up on their next grab.
   */
  readonly epoch?: Date | number;
  /** Fail with a TimeoutError if the server has not acknowledged the job (JOB_CREATED) by then. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const kForeground: Readonly<Record<Priority, PacketType>> = {
  high: PacketType.SUBMIT_JOB_HIGH,
  normal: PacketType.SUBMIT_JOB,
  low: PacketType.SUBMIT_JOB_LOW,
};

const kBackground: Readonly<Record<Priority, PacketType>> = {
  high: PacketType.SUBMIT_JOB_HIGH_BG,
  normal: PacketType.SUBMIT_JOB_BG,
  low: PacketType.SUBMIT_JOB_LOW_BG,
};

/** The SUBMIT_JOB* packet type for a priority; throws a TypeError for anything else. */
export function submitPacketType(priority: Priority | undefined, background: boolean): PacketType {
  if (priority === undefined) return background ? PacketType.SUBMIT_JOB_BG : PacketType.SUBMIT_JOB;
  const type = (background ? kBackground : kForeground)[priority];
  if (type === undefined)
    throw new TypeError(`priority must be 'high', 'normal' or 'low', got ${String(priority)}`);
  return type;
}

/** UTF-8 length, skipping the encoder when even 3 bytes a code unit would fit. */
function fitsIn(text: string, limit: number): boolean {
  return text.length * 3 <= limit || Buffer.byteLength(text) <= limit;
}

/** Checks a function name against gearmand's limits (libgearman-1.0/limits.h). */
export function checkFunctionName(fn: string): void {
  if (typeof fn !== 'string' || fn === '') throw new TypeError('function name must be a non-empty string');
  if (!fitsIn(fn, MAX_FUNCTION_SIZE)) {
    throw new RangeError(
      `function name is ${Buffer.byteLength(fn)} bytes; the limit is ${MAX_FUNCTION_SIZE}`,
    );
  }
  // A NUL would end the argument early and shift every following one.
  if (fn.includes('\0')) throw new TypeError('function name must not contain NUL');
}

/** Checks a unique id; gearmand answers ARGUMENT_TOO_LARGE past 64 bytes, we refuse before sending. */
export function checkUnique(unique: string): void {
  if (typeof unique !== 'string') throw new TypeError('unique must be a string');
  if (!fitsIn(unique, MAX_UNIQUE_SIZE)) {
    throw new RangeError(`unique is ${Buffer.byteLength(unique)} bytes; the limit is ${MAX_UNIQUE_SIZE}`);
  }
  if (unique.includes('\0')) throw new TypeError('unique must not contain NUL');
}

export function checkPayload(payload: unknown): asserts payload is string | Uint8Array {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new TypeError('payload must be a string or a Uint8Array');
  }
}

/**
 * Checks a timeout: any positive number of milliseconds up to MAX_TIMER_MS. Past that Node
 * would fire the timer after 1 ms, so a job asked to wait 30 days would time out at once.
 */
export function checkTimeout(timeoutMs: number | undefined, what = 'timeoutMs'): void {
  if (timeoutMs === undefined) return;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(`${what} must be a positive number, got ${timeoutMs}`);
  }
  if (timeoutMs > MAX_TIMER_MS) {
    throw new RangeError(
      `${what} is ${timeoutMs} ms; the limit is ${MAX_TIMER_MS} ms (MAX_TIMER_MS, about 24.8 days: the longest a Node timer waits)`,
    );
  }
}

/** Seconds since the epoch as gearmand reads them (decimal ASCII, whole seconds). */
export function epochSeconds(epoch: Date | number): string {
  const seconds = epoch instanceof Date ? Math.ceil(epoch.getTime() / 1000) : epoch;
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new RangeError(`epoch must be a time after 1970, got ${String(epoch)}`);
  // Rounded up, so a job never runs before the time asked for.
  return String(Math.ceil(seconds));
}
