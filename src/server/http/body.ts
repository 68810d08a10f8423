import type { IncomingMessage } from 'node:http';
import { HttpRequestError } from './request.js';

const kEmpty = Buffer.alloc(0);

/**
 * The declared Content-Length when it is over `max` (refused before a byte of the body
 * is read, and before a `100 Continue`), else null.
 */
export function declaredTooLarge(req: IncomingMessage, max: number): number | null {
  const declared = req.headers['content-length'];
  if (declared === undefined) return null;
  const length = Number(declared);
  return Number.isFinite(length) && length > max ? length : null;
}

/**
 * Reads the whole request body (the workload), Content-Length or chunked. More than
 * `max` bytes rejects with a 413 HttpRequestError as soon as the limit is passed, without
 * buffering the rest. A request the client aborts rejects with its error.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  if (declaredTooLarge(req, max) !== null) {
    return Promise.reject(new HttpRequestError(413, `the body is over ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        chunks.length = 0;
        reject(new HttpRequestError(413, `the body is over ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(
        chunks.length === 0
          ? kEmpty
          : chunks.length === 1
            ? (chunks[0] as Buffer)
            : Buffer.concat(chunks, size),
      );
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (!req.complete)
        onError(new Error('the client closed the connection before its request was complete'));
    };
    function cleanup(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
