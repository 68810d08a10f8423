import { createHash } from 'node:crypto';

const kDash = 0x2d;

/**
 * The key a job is coalesced under within its function, or null when it never is.
 * An empty unique never coalesces. A unique of `-` means "the payload is the unique"
 * (gearmand job.cc): jobs with equal payloads coalesce, and an empty payload never does.
 * Payloads are keyed by a SHA-1 digest, so a large payload costs one hash, not a huge
 * map key; the engine still compares the bytes on a hit. The payload is
 * `bytes[start, end)` (a submit's data, read in place), all of `bytes` by default.
 */
export function uniqueKey(unique: Buffer, bytes: Buffer, start = 0, end = bytes.length): string | null {
  if (unique.length === 0) return null;
  if (unique.length === 1 && unique[0] === kDash) {
    if (end === start) return null;
    // '\0' cannot occur in a unique (it is NUL-separated), so these keys never collide with one.
    return `\0${createHash('sha1').update(bytes.subarray(start, end)).digest('base64')}`;
  }
  return unique.toString('latin1');
}

/** True for keys made from the payload (unique `-`). */
export function isPayloadKey(key: string): boolean {
  return key.charCodeAt(0) === 0;
}
