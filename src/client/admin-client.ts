import { ConnectionError, ErrorCode, type GearmanError, TimeoutError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { DEFAULT_PORT, parseServerAddress, type ServerAddress, type TlsOptions } from '../net/address.js';
import { Connection } from '../net/connection.js';
import {
  type AdminCommand,
  AdminReplyReader,
  cancelJobCommand,
  createFunctionCommand,
  dropFunctionCommand,
  encodeAdminCommand,
  getPidCommand,
  type MaxQueueSizes,
  maxQueueCommand,
  maxRunningCommand,
  priorityStatusCommand,
  rawCommand,
  showJobsCommand,
  showUniqueJobsCommand,
  statusCommand,
  verboseCommand,
  versionCommand,
  workersCommand,
} from '../protocol/admin.js';
import type {
  FunctionPriorityStatus,
  FunctionStatus,
  JobInfo,
  WorkerInfo,
} from '../protocol/admin-replies.js';

export interface AdminClientOptions {
  /** The job server: `host:port`, `host`, `[v6]:port` or an address. @defaultValue '127.0.0.1:4730' */
  readonly server?: string | ServerAddress;
  /** Give up a connect attempt after this long. @defaultValue 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Fail a command whose reply has not come this long after it was issued (the time to
   * connect included) with a TimeoutError. @defaultValue 10000
   */
  readonly commandTimeoutMs?: number;
  /** Connect with TLS; overrides the `tls` of a ServerAddress given as `server`. */
  readonly tls?: TlsOptions;
  /** A pino-compatible logger; the client logs under `component: 'admin-client'`. @defaultValue silent */
  readonly logger?: Logger;
}

const kDefaultCommandTimeoutMs = 10_000;

interface Pending {
  readonly command: AdminCommand<unknown>;
  readonly reader: AdminReplyReader;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A client for the text admin protocol of one job server (gearmand or gworker's own).
 * Commands may be issued without waiting: they are written in order on one socket and
 * their replies are matched in order. It connects on the first command; after the
 * connection is lost, every command waiting for a reply fails with a ConnectionError,
 * and the next command connects again.
 *
 * @example
 * ```ts
 * const admin = new AdminClient({ server: 'jobs.example:4730' });
 * for (const row of await admin.status()) console.log(row.function, row.total);
 * await admin.close();
 * ```
 */
export class AdminClient {
  /** The server as `host:port`, for logs and messages. */
  readonly server: string;
  readonly #connection: Connection;
  readonly #commandTimeoutMs: number;
  readonly #log: Logger;
  /** Commands issued while the socket is not up, in issue order. */
  readonly #unsent: Pending[] = [];
  /** Commands written to the socket, oldest first: the next reply line belongs to the head. */
  readonly #inflight: Pending[] = [];
  /**
   * Set when a reply timed out: the stream's framing is lost, so the socket is dropped
   * and nothing more is sent or read on it.
   */
  #abandoned = false;
  #closed = false;

  /**
   * Checks the options and prepares the connection; nothing is dialled until the first
   * command. Throws TypeError or RangeError for a bad address or timeout.
   */
  constructor(options: AdminClientOptions = {}) {
    const base = parseServerAddress(options.server ?? `127.0.0.1:${DEFAULT_PORT}`);
    const address: ServerAddress = options.tls === undefined ? base : { ...base, tls: options.tls };
    const timeout = options.commandTimeoutMs ?? kDefaultCommandTimeoutMs;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(`commandTimeoutMs must be a positive number, got ${timeout}`);
    }
    const connectTimeout = options.connectTimeoutMs;
    if (connectTimeout !== undefined && (!Number.isFinite(connectTimeout) || connectTimeout <= 0)) {
      throw new RangeError(`connectTimeoutMs must be a positive number, got ${connectTimeout}`);
    }
    this.#commandTimeoutMs = timeout;
    const logger = options.logger ?? silentLogger;
    this.#connection = new Connection({
      address,
      text: true,
      // Admin needs no background retry loop: a command that finds the socket down dials again.
      reconnect: false,
      logger,
      ...(connectTimeout === undefined ? {} : { connectTimeoutMs: connectTimeout }),
    });
    this.server = this.#connection.name;
    this.#log = logger.child({ component: 'admin-client', server: this.server });
    this.#connection.on('line', (line) => this.#onLine(line));
    this.#connection.on('disconnect', (error) => this.#onDisconnect(error));
  }

  /** `status`: per function, jobs held (queued plus running), running jobs and registered workers. */
  status(): Promise<FunctionStatus[]> {
    return this.#run(() => statusCommand());
  }

  /** `prioritystatus`: per function, queued jobs by priority and registered workers. */
  priorityStatus(): Promise<FunctionPriorityStatus[]> {
    return this.#run(() => priorityStatusCommand());
  }

  /** `workers`: every connection to the server (clients and admin ones included) and its functions. */
  workers(): Promise<WorkerInfo[]> {
    return this.#run(() => workersCommand());
  }

  /** `show jobs`: every job the server holds, with its retries and flags. */
  showJobs(): Promise<JobInfo[]> {
    return this.#run(() => showJobsCommand());
  }

  /** `show unique jobs`: the unique id of every job the server holds. */
  showUniqueJobs(): Promise<string[]> {
    return this.#run(() => showUniqueJobsCommand());
  }

  /** `version`: the server's version, e.g. `1.1.20+ds`. */
  version(): Promise<string> {
    return this.#run(() => versionCommand());
  }

  /** `getpid`: the server's process id. */
  getPid(): Promise<number> {
    return this.#run(() => getPidCommand());
  }

  /** `verbose`: the server's log level name, e.g. `ERROR` or `INFO`. */
  verbose(): Promise<string> {
    return this.#run(() => verboseCommand());
  }

  /**
   * `maxqueue`: limits how many jobs a function may hold; a submit over the limit is
   * refused with QUEUE_ERROR. A number sets every priority; `{high, normal, low}` sets
   * each. 0 removes the limit. gearmand compares the limit of the new job's priority
   * with all the function's jobs (queued plus running), and ignores a function it does
   * not know yet: create it first with {@link AdminClient.createFunction} if needed.
   */
  maxQueue(fn: string, sizes: MaxQueueSizes): Promise<void> {
    return this.#run(() => maxQueueCommand(fn, sizes));
  }

  /**
   * `maxrunning` (gworker's server only: gearmand fails it with AdminError code
   * `UNKNOWN_COMMAND`): at most `cap` jobs of the function run at once across all
   * workers; the others wait in its queue. 0 removes the cap. It holds for a function
   * the server does not know yet; `raw('show maxrunning')` lists the caps.
   */
  maxRunning(fn: string, cap: number): Promise<void> {
    return this.#run(() => maxRunningCommand(fn, cap));
  }

  /**
   * `cancel job`: marks a queued job to be dropped. Fails with AdminError code
   * `UNKNOWN_JOB` when the server does not hold the handle.
   */
  cancelJob(handle: string): Promise<void> {
    return this.#run(() => cancelJobCommand(handle));
  }

  /** `create function`: makes the server know a function before any worker or job names it. */
  createFunction(fn: string): Promise<void> {
    return this.#run(() => createFunctionCommand(fn));
  }

  /**
   * `drop function`: forgets a function. Fails with AdminError code `FUNCTION_IN_USE`
   * while workers have it registered or jobs of it run, `FUNCTION_NOT_FOUND` when unknown.
   */
  dropFunction(fn: string): Promise<void> {
    return this.#run(() => dropFunctionCommand(fn));
  }

  /**
   * Sends any one command line and returns its reply lines unparsed (a list's final `.`
   * removed). An `ERR` reply fails with AdminError.
   */
  raw(commandLine: string): Promise<string[]> {
    return this.#run(() => rawCommand(commandLine));
  }

  /**
   * Closes the connection. Commands still waiting fail with a ConnectionError (code
   * CLOSED); later commands are refused. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const error = new ConnectionError(ErrorCode.CLOSED, 'admin client was closed', this.server);
      this.#failAll(this.#unsent, error);
      this.#failAll(this.#inflight, error);
    }
    await this.#connection.close();
  }

  /** Builds the command (bad arguments reject, they do not throw) and queues it. */
  #run<T>(build: () => AdminCommand<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new ConnectionError(ErrorCode.CLOSED, 'admin client was closed', this.server));
    }
    let command: AdminCommand<T>;
    try {
      command = build();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        command,
        reader: new AdminReplyReader(command.shape),
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: setTimeout(() => this.#onTimeout(pending), this.#commandTimeoutMs),
      };
      this.#unsent.push(pending);
      this.#pump();
    });
  }

  /** Writes what waits if the socket is up, or dials when it is down and not abandoned. */
  #pump(): void {
    if (this.#unsent.length === 0 || this.#closed || this.#abandoned) return;
    const conn = this.#connection;
    if (conn.connected) {
      for (const pending of this.#unsent.splice(0)) {
        conn.send(encodeAdminCommand(pending.command));
        this.#inflight.push(pending);
      }
      return;
    }
    conn.connect().then(
      () => this.#pump(),
      (error: GearmanError) => {
        // The attempt failed: fail what was waiting for it, not what comes after.
        if (!conn.connected) this.#failAll(this.#unsent, error);
      },
    );
  }

  #onLine(line: string): void {
    if (this.#abandoned) return;
    const head = this.#inflight[0];
    if (head === undefined) {
      this.#log.warn({ line }, 'admin reply line with no command waiting; dropping the connection');
      this.#abandon();
      return;
    }
    if (!head.reader.push(line)) return;
    this.#inflight.shift();
    clearTimeout(head.timer);
    let value: unknown;
    try {
      value = head.command.parse(head.reader.lines);
    } catch (err) {
      head.reject(err as Error);
      return;
    }
    head.resolve(value);
  }

  #onTimeout(pending: Pending): void {
    const unsent = this.#unsent.indexOf(pending);
    const error = new TimeoutError(
      `admin command "${pending.command.line}" got no reply from ${this.server} within ${this.#commandTimeoutMs} ms`,
    );
    if (unsent !== -1) {
      // Never written (still connecting): nothing on the wire to resynchronise.
      this.#unsent.splice(unsent, 1);
      pending.reject(error);
      return;
    }
    const index = this.#inflight.indexOf(pending);
    if (index === -1) return;
    this.#inflight.splice(index, 1);
    pending.reject(error);
    // Its reply may still come and would be taken for the next command's: drop the socket.
    this.#log.warn({ command: pending.command.line }, 'admin command timed out; dropping the connection');
    this.#abandon();
  }

  #abandon(): void {
    if (!this.#connection.connected) return;
    this.#abandoned = true;
    this.#connection.destroy();
  }

  #onDisconnect(error: GearmanError): void {
    this.#abandoned = false;
    this.#failAll(this.#inflight, error);
    // Commands issued after the socket was abandoned dial a fresh one.
    this.#pump();
  }

  #failAll(list: Pending[], error: Error): void {
    for (const pending of list.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
