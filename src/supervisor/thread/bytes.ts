/**
 * Byte helpers shared by the main thread and handler threads.
 */

/**
 * From this size on, bytes travel in a transferred buffer of their own (moved, not
 * copied, when they already own one); smaller ones are copied into the batch's buffer,
 * which costs less than a transfer each.
 */
export const kOwnBufferBytes = 64 * 1024;

/** True when the view covers its whole ArrayBuffer, so transferring it detaches nothing else. */
function ownsItsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !isShared(bytes.buffer);
}

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

/**
 * A copy of `bytes` in an ArrayBuffer of its own, unless it already has one: socket
 * chunks hold several frames, and transferring one payload's view would detach the rest.
 */
export function transferableCopy(bytes: Uint8Array): Uint8Array {
  if (ownsItsBuffer(bytes)) return bytes;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/**
 * A handler's result as bytes: strings as UTF-8, bytes as they are, nothing as empty,
 * anything else as JSON.
 */
export function resultToBytes(result: unknown): Uint8Array {
  if (result === undefined || result === null) return new Uint8Array(0);
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  if (result instanceof Uint8Array) return result;
  if (result instanceof ArrayBuffer) return new Uint8Array(result);
  if (ArrayBuffer.isView(result)) return new Uint8Array(result.buffer, result.byteOffset, result.byteLength);
  const json = JSON.stringify(result);
  if (json === undefined) throw new TypeError(`a handler returned a ${typeof result}, which cannot be sent`);
  return Buffer.from(json, 'utf8');
}
