import type { CarriedError } from './carrier.js';

/**
 * The dead letter: a job's final failure as the dead-letter function receives it, a
 * JSON document (docs/retries.md lists the fields). Any Gearman worker can read it.
 */
export interface DeadLetterDocument {
  /** Names the format, for consumers that read several. */
  readonly format: 'gworker.dead-letter/1';
  readonly function: string;
  /** The unique the job was first submitted with ('' for none). */
  readonly unique: string;
  /** The handle of the last attempt, and the server that gave it. */
  readonly handle: string;
  readonly server: string;
  /** `utf8`: `payload` is the text itself; `base64`: the bytes were not valid UTF-8. */
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payload: string;
  /** Runs made, the first included. */
  readonly attempts: number;
  /** Every attempt's error, oldest first; times as ISO 8601. */
  readonly errors: ReadonlyArray<Omit<CarriedError, 'at'> & { readonly at: string }>;
  /** The box that made the last attempt. */
  readonly box: { readonly clientId: string | null; readonly hostname: string };
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  readonly deadLetteredAt: string;
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A job's final failure as the retry service knows it: what both the dead letter and the failure record keep. */
export interface FinalFailure {
  readonly function: string;
  readonly unique: string;
  readonly handle: string;
  readonly server: string;
  readonly payload: Uint8Array;
  readonly attempts: number;
  readonly errors: readonly CarriedError[];
}

export function deadLetterDocument(
  parts: FinalFailure & { readonly clientId: string | undefined; readonly hostname: string },
): DeadLetterDocument {
  const errors = parts.errors.map((error) => ({ ...error, at: new Date(error.at).toISOString() }));
  const first = parts.errors[0]?.at ?? Date.now();
  const last = parts.errors[parts.errors.length - 1]?.at ?? first;
  return {
    format: 'gworker.dead-letter/1',
    function: parts.function,
    unique: parts.unique,
    handle: parts.handle,
    server: parts.server,
    ...payloadText(parts.payload),
    attempts: parts.attempts,
    errors,
    box: { clientId: parts.clientId ?? null, hostname: parts.hostname },
    firstFailedAt: new Date(first).toISOString(),
    lastFailedAt: new Date(last).toISOString(),
    deadLetteredAt: new Date().toISOString(),
  };
}

/** A payload as JSON carries it: the text when it is UTF-8, else base64, and which. */
export function payloadText(bytes: Uint8Array): { payloadEncoding: 'utf8' | 'base64'; payload: string } {
  const text = utf8(bytes);
  return text === null
    ? {
        payloadEncoding: 'base64',
        payload: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      }
    : { payloadEncoding: 'utf8', payload: text };
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return kUtf8.decode(bytes);
  } catch {
    return null;
  }
}
