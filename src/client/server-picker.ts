/**
 * Which server a job goes to. Every gworker client with the same server list (same
 * order) sends a given unique id to the same server, so that coalescing and
 * GET_STATUS_UNIQUE work across clients:
 *
 *   index = FNV-1a-32(UTF-8 bytes of the unique) mod (number of servers)
 *
 * FNV-1a 32-bit: offset basis 2166136261, prime 16777619
 * (http://www.isthe.com/chongo/tech/comp/fnv/). For the unique `-` the server hashes
 * the payload, so we hash the payload too: identical payloads meet on one server.
 * Jobs without a unique are spread round-robin.
 */
const kOffsetBasis = 0x811c9dc5;
const kPrime = 0x01000193;

/** FNV-1a 32-bit hash of bytes, or of a string's UTF-8 encoding. */
export function fnv1a32(input: string | Uint8Array): number {
  let hash = kOffsetBasis;
  if (typeof input === 'string') {
    for (let i = 0; i < input.length; i++) {
      const code = input.charCodeAt(i);
      // Non-ASCII: hash the real UTF-8 bytes so every language's client agrees.
      if (code > 0x7f) return fnv1a32(Buffer.from(input, 'utf8'));
      hash = Math.imul(hash ^ code, kPrime);
    }
  } else {
    for (let i = 0; i < input.length; i++) hash = Math.imul(hash ^ (input[i] as number), kPrime);
  }
  return hash >>> 0;
}

/** The index of the server that owns `unique` among `count` servers (see the module comment). */
export function serverIndexForUnique(unique: string, payload: string | Uint8Array, count: number): number {
  if (count === 1) return 0;
  return fnv1a32(unique === '-' ? payload : unique) % count;
}
