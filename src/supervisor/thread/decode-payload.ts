import type { PayloadEncoding } from '../manifest/types.js';

/**
 * A job's payload as its handler asked for it (`payload:` in the manifest): the bytes,
 * UTF-8 text, or parsed JSON. A payload that is not JSON throws a SyntaxError saying so,
 * which fails the job with that reason.
 */
export function decodePayload(bytes: Buffer, encoding: PayloadEncoding): unknown {
  if (encoding === 'buffer') return bytes;
  const text = bytes.toString('utf8');
  if (encoding === 'text') return text;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`the payload is not valid JSON: ${(err as Error).message}`);
  }
}
