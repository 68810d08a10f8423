import type { TlsOptions } from '../../net/address.js';
import type { RateLimitConfig } from '../capacity/rate-limit.js';
import type { ControlListen } from '../control/listen-address.js';
import type { RetryPolicy } from '../retry/policy.js';

/** How a job's payload reaches the handler and how the result is encoded. */
export type PayloadEncoding = 'buffer' | 'text' | 'json';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Worker connections to keep to this server. */
  readonly connections: number;
  /** TLS with file contents already read (paths resolve against the manifest). */
  readonly tls?: TlsOptions;
}

/** `concurrency: { min, max }`: the autoscaler moves the function's slots between these. */
export interface ConcurrencyRange {
  /** Fewest slots, 0 or more: with 0 the function takes no job until some wait at the job servers. */
  readonly min: number;
  readonly max: number;
}

interface FunctionConfigBase {
  readonly name: string;
  /**
   * Most jobs of this function running at once on this box; with `scaling`, its max
   * (the threads are sized for it, and the slots move between min and max).
   */
  readonly concurrency: number;
  /** Set by `concurrency: { min, max }`: the autoscaler follows the job servers' queues. */
  readonly scaling?: ConcurrencyRange;
  /**
   * `concurrency: auto` (or `max: auto`) gave the count: the box's usable cores
   * (usableCores()), and the function counts as CPU-bound for the box's budget.
   */
  readonly concurrencyAuto?: true;
  readonly payload: PayloadEncoding;
  /** Enforced by the supervisor: abort the job's signal, then end its thread or process. */
  readonly timeoutMs?: number;
  /**
   * How a thrown error, crash or timeout reaches clients. `true`: WORK_EXCEPTION with the
   * reason (the server sends WORK_FAIL to clients that did not ask for exceptions).
   * `false`: WORK_WARNING with the reason, then WORK_FAIL. gearmand 1.1.20 appends a
   * stray NUL to the WORK_FAIL it makes from an exception, which libgearman clients
   * without exceptions (the gearman CLI, C clients) never match, so they wait forever:
   * choose `false` when such clients use a gearmand 1.1.x.
   * @defaultValue true
   */
  readonly exceptions: boolean;
  /**
   * Largest result, WORK_DATA or WORK_WARNING chunk sent for a job, in bytes: a bigger one
   * fails the job with the reason instead (as a thrown error does), since a job server
   * with a lower frame limit drops the connection and requeues the job, forever.
   * @defaultValue the top-level `maxResultSize`, 32 MiB (DEFAULT_MAX_RESULT_SIZE)
   */
  readonly maxResultSize?: number;
  /** Runs again after a failure (docs/retries.md). @defaultValue none: a failure is final */
  readonly retry?: RetryPolicy;
  /** Receives the final failure as a background job (a JSON document; docs/retries.md). */
  readonly deadLetter?: string;
  /**
   * Its share of the box's slots when functions compete for them (`box.slots`): the
   * wanting function with the lowest running / weight grabs next. @defaultValue 1
   */
  readonly weight?: number;
  /**
   * CPU-bound: its jobs count against `box.cpuSlots` (the box's usable cores by default)
   * with every other CPU-bound function's. @defaultValue false (a handler may be
   * I/O-bound: one thread can run 128 such jobs at once)
   */
  readonly cpu?: boolean;
  /** At most `jobs` jobs start in any span of `per` on this box; the rest stay at the job server. */
  readonly rateLimit?: RateLimitConfig;
}

export interface ModuleFunctionConfig extends FunctionConfigBase {
  readonly kind: 'module';
  /** Absolute path of the handler module (.js, .mjs, .cjs or .ts). */
  readonly handler: string;
  /** Which export is the handler. @defaultValue 'default' */
  readonly export: string;
  /**
   * Where the handler runs: `thread` (a worker thread of the supervisor) or `process` (a
   * child process of its own, which contains native crashes, memory outside the V8 heap
   * and process-wide state, at the cost of a process per worker). @defaultValue 'thread'
   */
  readonly isolation?: 'thread' | 'process';
  /** `isolation: process`: end a process whose resident set passes this many MB. */
  readonly maxRssMb?: number;
  /** `isolation: process`: replace a process after this many jobs. */
  readonly maxJobsPerProcess?: number;
  /** Recycle a thread after this many jobs (guards against slow leaks). */
  readonly maxJobsPerThread?: number;
  /** The thread's old-generation heap limit. */
  readonly maxMemoryMb?: number;
  /** Jobs one thread (or process, with `isolation: process`) runs at once: raise it for I/O-bound handlers. */
  readonly jobsPerThread: number;
  /**
   * Jobs each thread holds ready behind those it runs, so the next one starts the moment
   * one ends instead of after a round trip to the job server. They are taken early: they
   * wait here even while another box could run them, so this is for steady batches of
   * CPU-heavy jobs, not for latency. @defaultValue 0 (grab only with a free slot)
   */
  readonly prefetch?: number;
  /**
   * Threads (processes, with `isolation: process`) kept running while no job needs them;
   * the others start when a job finds no thread with room and end after `idleTimeoutMs`
   * idle. @defaultValue 0 (an idle function holds no thread; its next job waits for one)
   */
  readonly minThreads?: number;
  /** How long a thread beyond minThreads may sit without a job before it ends. @defaultValue 30 s */
  readonly idleTimeoutMs?: number;
  /**
   * `thread`: each handler thread owns its job-server connections and answers its own
   * jobs, like a PHP worker process (no hop to the main thread per job). The trade-off:
   * a thread that dies drops its connections and the job server requeues its jobs
   * (answered here with the crash's reason, not run again; docs/manifest.md).
   * @defaultValue absent (`supervisor`: the main thread holds the connections)
   */
  readonly dispatch?: 'thread';
}

export interface CommandFunctionConfig extends FunctionConfigBase {
  readonly kind: 'command';
  /** Program and arguments; the workload goes to its stdin, its stdout is the result. */
  readonly command: readonly string[];
  /** Working directory. @defaultValue the manifest's folder */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /**
   * `result`: stdout is collected and sent as the job's result, as `gearman -w` does.
   * `stream`: stdout is sent as WORK_DATA chunks while the command runs, and the result is empty.
   * @defaultValue 'result'
   */
  readonly output: 'result' | 'stream';
  /**
   * Most bytes of stdout the command may produce (collected or streamed); past it its
   * process group is killed and the job fails saying so. @defaultValue 64 MiB
   */
  readonly maxOutputBytes?: number;
}

export type FunctionConfig = ModuleFunctionConfig | CommandFunctionConfig;

/** The supervisor's control API (status, metrics, dashboard, commands). */
export interface ControlConfig {
  /** Where it listens; null when the manifest turns it off with `control: false`. @defaultValue 127.0.0.1:4731 */
  readonly listen: ControlListen | null;
  /** Bearer token every request must carry; required to listen beyond loopback. */
  readonly token?: string;
  /**
   * Whether the manifest chose the address. A busy default port only costs the control
   * API (with a warning); a chosen one that cannot be bound stops the start.
   */
  readonly explicit: boolean;
}

export interface EmbeddedServerConfig {
  readonly host: string;
  readonly port: number;
  /** SQLite file that makes background jobs durable (absolute path). */
  readonly store?: string;
  /** Port of the HTTP gateway, on the same host. */
  readonly httpPort?: number;
  /** Foreground results served again for this long to a job with the same function and unique. */
  readonly resultCacheMs?: number;
  /** Most jobs of each named function running at once across all workers (the server's `maxrunning`). */
  readonly maxRunning?: Readonly<Record<string, number>>;
}

/** Final failures kept on this box (docs/retries.md#failure-records). */
export interface FailuresConfig {
  /** The SQLite file (absolute path). */
  readonly store: string;
  /** Most records kept; the oldest go first. @defaultValue 10000 */
  readonly keep: number;
}

/** `box:` what all functions on this box share (docs/manifest.md#box). */
export interface BoxConfig {
  /** Jobs held at once by all functions together. @defaultValue no bound */
  readonly slots?: number;
  /** Jobs held at once by the CPU-bound functions together. @defaultValue usableCores() */
  readonly cpuSlots?: number;
  /** No grab while the supervisor and its processes are resident over this many MiB. */
  readonly memoryMb?: number;
}

/** Top-level `autoscale`: when the autoscaler samples and how long idle slots wait before going. */
export interface AutoscaleConfig {
  /** `interval`: how often the job servers' queues are sampled. @defaultValue 1000 */
  readonly sampleMs?: number;
  /** `scaleDownAfter`: how long slots sit idle, with nothing waiting, before they go. @defaultValue 30000 */
  readonly downAfterMs?: number;
}

export interface Manifest {
  /** Absolute path of the manifest file. */
  readonly file: string;
  /** `null` when the manifest names none: the embedded job server runs in-process. */
  readonly servers: readonly ServerConfig[] | null;
  /** The job server run in-process when `servers` is null. */
  readonly embeddedServer: EmbeddedServerConfig;
  /** Connections per server and function, for servers that do not set their own. */
  readonly connections: number;
  readonly clientId?: string;
  readonly shutdownTimeoutMs: number;
  /** Changes need a restart: a live reload keeps the address it started with. */
  readonly control: ControlConfig;
  /** Changes need a restart. */
  readonly failures?: FailuresConfig;
  /** Applied live on reload. */
  readonly box: BoxConfig;
  /** The autoscaler's timing; changes need a restart. */
  readonly autoscale?: AutoscaleConfig;
  readonly functions: readonly FunctionConfig[];
}
