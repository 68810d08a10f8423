/** Byte-level readers for the decoder's hot path: plain loops and arithmetic, no checked Buffer calls. */

/** A big-endian uint32 at `at` (which the caller knows is in range): no call into Buffer's checked readers. */
export function uint32(buf: Buffer, at: number): number {
  return (
    (buf[at] as number) * 0x1000000 +
    (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
  );
}

/**
 * The first NUL in `bytes[from, end)`, or -1. A loop rather than indexOf: the arguments
 * searched (names, uniques, handles) are short, and indexOf costs a native call each.
 */
export function nulAt(bytes: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) if (bytes[i] === 0) return i;
  return -1;
}
