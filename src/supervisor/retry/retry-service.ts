import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { Client } from '../../client/client.js';
import { type Logger, silentLogger } from '../../log.js';
import type { ServerAddress } from '../../net/address.js';
import { settlesBy } from '../deadline.js';
import type { ServerConfig } from '../manifest/types.js';
import type { FailureStore, NewFailure } from './failure-store.js';
import type { RetryCause } from './policy.js';

/** How long a retry or dead-letter submit may wait for its JOB_CREATED. */
const kSubmitTimeoutMs = 10_000;
/** How long the foreground-or-background question may take before the answer is "unknown". */
const kStatusTimeoutMs = 2_000;

export interface RetryEvent {
  readonly function: string;
  readonly cause: RetryCause;
  /** `server`: resubmitted as an epoch job; `in-place`: run again here while the client waits. */
  readonly via: 'server' | 'in-place';
}

export interface DeadLetterEvent {
  readonly function: string;
  readonly cause: RetryCause;
  readonly deadLetter: string;
}

export interface RetryServiceEvents {
  retry: [event: RetryEvent];
  deadLetter: [event: DeadLetterEvent];
}

/**
 * The supervisor's side of retries: a client connection to each job server, opened on
 * the first retry it serves, through which background retries and dead letters go
 * back to the server their job came from (that server holds the job's unique; and a
 * retry there needs no other server to be up). Also who this box is, for the records.
 */
export class RetryService extends EventEmitter<RetryServiceEvents> {
  /** The clientId of the manifest, else the hostname: who ran an attempt. */
  readonly box: string;
  readonly hostname: string;
  readonly clientId: string | undefined;
  readonly #log: Logger;
  readonly #clients = new Map<string, Client>();
  readonly #stopping = new AbortController();
  #failures: FailureStore | null = null;

  constructor(options: { clientId?: string; logger?: Logger } = {}) {
    super();
    this.hostname = hostname();
    this.clientId = options.clientId;
    this.box = options.clientId ?? this.hostname;
    this.#log = (options.logger ?? silentLogger).child({ component: 'retry' });
  }

  /** The failure records (`failures:` in the manifest), once the supervisor has opened them. */
  get failures(): FailureStore | null {
    return this.#failures;
  }

  set failures(store: FailureStore | null) {
    this.#failures = store;
  }

  /** Keeps a final failure, when the box keeps them; a store that fails is logged, never the job's problem. */
  recordFailure(failure: NewFailure): void {
    if (this.#failures === null) return;
    try {
      this.#failures.record(failure);
    } catch (err) {
      this.#log.error(
        { err, function: failure.function, jobHandle: failure.handle },
        `could not record the failure of job ${failure.handle} in ${this.#failures.file}`,
      );
    }
  }

  /** Aborted when the supervisor starts to stop: retries waiting in place give up. */
  get stopping(): AbortSignal {
    return this.#stopping.signal;
  }

  /**
   * How many clients wait for the job with this unique on `server`: 0 for a background
   * job, null when it cannot be told (no unique, or the server did not answer).
   */
  async waitingClients(server: ServerConfig, unique: string): Promise<number | null> {
    if (unique === '') return null;
    try {
      const asked = this.#client(server).getStatusUnique(unique);
      asked.catch(() => {});
      if (!(await settlesBy(asked, performance.now() + kStatusTimeoutMs))) {
        throw new Error(`no answer in ${kStatusTimeoutMs} ms`);
      }
      const status = await asked;
      return status.known ? status.waitingClients : null;
    } catch (err) {
      this.#log.warn(
        { err, server: name(server) },
        'could not ask the job server who waits for a failed job',
      );
      return null;
    }
  }

  /** Submits a background job due at `epochMs` (SUBMIT_JOB_EPOCH); resolves with its handle. */
  submitAt(
    server: ServerConfig,
    fn: string,
    unique: string,
    payload: Uint8Array,
    epochMs: number,
  ): Promise<string> {
    return this.#client(server).submitBackground(fn, payload, {
      unique,
      epoch: new Date(epochMs),
      timeoutMs: kSubmitTimeoutMs,
    });
  }

  /** Submits a background job to run now; resolves with its handle. */
  submitNow(server: ServerConfig, fn: string, unique: string, payload: Uint8Array): Promise<string> {
    return this.#client(server).submitBackground(fn, payload, { unique, timeoutMs: kSubmitTimeoutMs });
  }

  /** A stop begins: retries waiting in place give up, and no new one waits. */
  stop(): void {
    this.#stopping.abort(new Error('the supervisor is stopping'));
  }

  /** stop(), then closes the connections. Idempotent. */
  async close(): Promise<void> {
    this.stop();
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(clients.map((client) => client.close()));
  }

  #client(server: ServerConfig): Client {
    const key = `${name(server)}${server.tls ? ' tls' : ''}`;
    let client = this.#clients.get(key);
    if (client === undefined) {
      const address: ServerAddress = server.tls
        ? { host: server.host, port: server.port, tls: server.tls }
        : { host: server.host, port: server.port };
      client = new Client({ servers: [address], logger: this.#log });
      this.#clients.set(key, client);
    }
    return client;
  }
}

function name(server: ServerConfig): string {
  return `${server.host}:${server.port}`;
}
