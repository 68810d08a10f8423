import { once } from 'node:events';
import { Client } from '../client/client.js';
import type { Priority } from '../client/submit-options.js';
import { parseServerAddress, type TlsOptions } from '../net/address.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { kClientTlsOptions } from './tls-files.js';

/** parseArgs config of the flags every way of submitting shares (`gworker submit`, with or without --batch). */
export const kJobOptions = {
  function: { type: 'string', short: 'f' },
  server: { type: 'string', short: 's', multiple: true },
  background: { type: 'boolean', short: 'b' },
  priority: { type: 'string', short: 'p' },
  timeout: { type: 'string', short: 't' },
  ...kClientTlsOptions,
  help: { type: 'boolean', short: 'h' },
} as const;

export const kDefaultServer = '127.0.0.1:4730';

const kPriorities: readonly string[] = ['high', 'normal', 'low'];

/** The --function value, required and non-empty. */
export function functionName(value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError('--function is required');
  return value;
}

/** The --priority value, checked; undefined when not given. */
export function parsePriority(value: string | undefined): Priority | undefined {
  if (value !== undefined && !kPriorities.includes(value)) {
    throw new UsageError(`--priority must be high, normal or low, not "${value}"`);
  }
  return value as Priority | undefined;
}

/** The --timeout value (seconds) in milliseconds; undefined when not given. */
export function parseTimeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!(Number.isFinite(seconds) && seconds > 0))
    throw new UsageError('--timeout must be a positive number of seconds');
  return seconds * 1000;
}

/**
 * A client for a one-shot command: a server that is down is failed over at once, never
 * waited for. A bad server address is a usage error.
 */
export function openClient(servers: readonly string[], tls: TlsOptions | undefined): Client {
  try {
    const addresses = tls === undefined ? servers : servers.map((s) => ({ ...parseServerAddress(s), tls }));
    return new Client({ servers: addresses, reconnect: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Writes and waits for 'drain' when the stream is over its high-water mark. */
export async function write(stream: CliIo['stdout'], data: Buffer | string): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

/** One line, whatever the worker put in an exception payload. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** An error's message on one line. */
export function errorText(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}
