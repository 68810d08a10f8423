import { once } from 'node:events';
import { Client } from '../client/client.js';
import { parseServerAddress, type TlsOptions } from '../net/address.js';
import type { OptionSpecs } from './args/option-spec.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { kClientTlsOptions } from './tls-files.js';

export const kDefaultServer = '127.0.0.1:4730';

/** The options every way of submitting shares (`gworker submit`, with or without --batch). */
export const kJobOptions = {
  function: { type: 'string', short: 'f', value: 'NAME', help: 'the function to run (required)' },
  server: {
    type: 'list',
    short: 's',
    value: 'HOST:PORT',
    help: `a job server; repeat for several (default $GWORKER_SERVERS, comma-separated, else ${kDefaultServer})`,
  },
  background: { type: 'boolean', short: 'b', help: 'submit in the background and print the job handle' },
  priority: {
    type: 'string',
    short: 'p',
    value: 'LEVEL',
    choices: ['high', 'normal', 'low'],
    help: 'high, normal or low (default normal)',
  },
  timeout: { type: 'duration', short: 't', help: 'give up waiting after this long (e.g. 30s)' },
  ...kClientTlsOptions,
} as const satisfies OptionSpecs;

/**
 * The servers to submit to: the --server flags, else $GWORKER_SERVERS (`h1:4730,h2:4730`,
 * as `gworker start` reads it), else the local default. Checked here, before anything
 * connects: a bad address is a usage error.
 */
export function submitServers(flags: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.GWORKER_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const servers = flags.length > 0 ? [...flags] : fromEnv.length > 0 ? fromEnv : [kDefaultServer];
  const where = flags.length > 0 ? '--server' : 'GWORKER_SERVERS';
  for (const server of servers) {
    try {
      parseServerAddress(server);
    } catch (err) {
      throw new UsageError(`${where}: ${(err as Error).message}`);
    }
  }
  return servers;
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
