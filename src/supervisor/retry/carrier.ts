import { createHash } from 'node:crypto';
import { MAX_UNIQUE_SIZE } from '../../protocol/constants.js';
import type { RetryCause } from './policy.js';

/**
 * The retry carrier: what travels with a retried job so that its attempt number, the
 * original unique and every earlier error survive a trip through the job server, to
 * any box, across restarts. It is an envelope around the payload (docs/retries.md has
 * the wire format): the magic `\0GWRETRY1\0`, a JSON header (JSON never holds a raw
 * NUL), a NUL, then the original payload byte for byte. gworker unwraps it before the
 * handler runs; a non-gworker worker of the function sees the envelope as its payload.
 */
export interface Carrier {
  /** The attempt the carried job is: 2 for the first retry. */
  readonly attempt: number;
  /** The unique the job was first submitted with ('' for none). */
  readonly unique: string;
  /**
   * Names the original job (its server, handle and unique, hashed): retry uniques derive
   * from it, so a second submit of one attempt coalesces with the first.
   */
  readonly key: string;
  /** When the first attempt failed (ms since the epoch). */
  readonly firstFailedAt: number;
  /** Every failed attempt so far, oldest first. */
  readonly errors: readonly CarriedError[];
}

export interface CarriedError {
  readonly attempt: number;
  readonly cause: RetryCause;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** ms since the epoch. */
  readonly at: number;
  /** The box that ran the attempt: its clientId, else its hostname. */
  readonly box: string;
}

export const kCarrierMagic = Buffer.from('\0GWRETRY1\0', 'latin1');
/** Longest message and stack kept per error: a hundred attempts stay well under 1 MiB. */
const kMaxMessage = 2000;
const kMaxStack = 4000;

/** The payload wrapped for a retry: magic, JSON header, NUL, the payload. */
export function wrapPayload(carrier: Carrier, payload: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify({ v: 1, ...carrier }), 'utf8');
  return Buffer.concat([kCarrierMagic, header, kNul, payload]);
}

const kNul = Buffer.from([0]);

/**
 * The carrier and the original payload (a view, no copy), or null when the payload is
 * not an envelope (or is a damaged one: then the handler gets the bytes as they came).
 */
export function unwrapPayload(payload: Uint8Array): { carrier: Carrier; payload: Uint8Array } | null {
  if (payload.byteLength <= kCarrierMagic.length || payload[0] !== 0) return null;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (!bytes.subarray(0, kCarrierMagic.length).equals(kCarrierMagic)) return null;
  const end = bytes.indexOf(0, kCarrierMagic.length);
  if (end < 0) return null;
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', kCarrierMagic.length, end));
  } catch {
    return null;
  }
  const carrier = asCarrier(header);
  return carrier === null ? null : { carrier, payload: bytes.subarray(end + 1) };
}

function asCarrier(value: unknown): Carrier | null {
  if (typeof value !== 'object' || value === null) return null;
  const h = value as Record<string, unknown>;
  if (
    h.v !== 1 ||
    !Number.isInteger(h.attempt) ||
    (h.attempt as number) < 2 ||
    typeof h.unique !== 'string' ||
    typeof h.key !== 'string' ||
    typeof h.firstFailedAt !== 'number' ||
    !Array.isArray(h.errors)
  ) {
    return null;
  }
  return {
    attempt: h.attempt as number,
    unique: h.unique,
    key: h.key,
    firstFailedAt: h.firstFailedAt,
    errors: h.errors as CarriedError[],
  };
}

/** The key of a job's first attempt: 16 base64url characters of SHA-256. */
export function jobKey(server: string, handle: string, unique: string): string {
  return createHash('sha256').update(`${server}\0${handle}\0${unique}`).digest('base64url').slice(0, 16);
}

/**
 * The unique of the retry that runs attempt `attempt`: the original unique (cut to fit
 * gearmand's 64 bytes), `~r` and the attempt, `.` and the job's key. The same original
 * job and attempt always give the same unique, so a retry submitted twice (the original
 * requeued after a crash and failing again) coalesces into one job at the server; two
 * different jobs that shared a unique get two.
 */
export function retryUnique(unique: string, key: string, attempt: number): string {
  return withSuffix(unique, `~r${attempt}.${key}`);
}

/** The unique of a job's dead letter (coalesces the same way). */
export function deadLetterUnique(unique: string, key: string): string {
  return withSuffix(unique, `~dead.${key}`);
}

function withSuffix(unique: string, suffix: string): string {
  const room = MAX_UNIQUE_SIZE - Buffer.byteLength(suffix);
  let head = unique;
  while (Buffer.byteLength(head) > room) head = head.slice(0, -1);
  // A cut surrogate pair would be an invalid UTF-8 sequence on the wire.
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${head}${suffix}`;
}

/** An error as the carrier keeps it: message and stack capped. */
export function carriedError(
  error: Omit<CarriedError, 'message' | 'stack'> & { message: string; stack?: string },
): CarriedError {
  const { stack, ...rest } = error;
  return {
    ...rest,
    message: cap(error.message, kMaxMessage),
    ...(stack === undefined ? {} : { stack: cap(stack, kMaxStack) }),
  };
}

function cap(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
