import { type Logger, silentLogger } from '../../log.js';
import { missingConnections } from '../health/readiness.js';
import type { FunctionSnapshot, Supervisor, SupervisorEvents } from '../supervisor.js';
import { takeNotifyEnvironment } from './notify-env.js';
import { NotifySender } from './notify-sender.js';
import { statusLine } from './status-line.js';

export interface ServiceNotifierOptions {
  readonly sender: NotifySender;
  readonly logger?: Logger;
  /** WATCHDOG=1 every this many milliseconds; null for none. */
  readonly watchdogIntervalMs: number | null;
  /**
   * READY=1 waits this long at most for every connection to come up; then it is sent
   * anyway, with STATUS= naming what is missing (a job server down must not fail the
   * start: the connections keep retrying). @defaultValue 30000
   */
  readonly readyTimeoutMs?: number;
  /** How often connections are looked at for READY=1 and STATUS= changes. @defaultValue 250 */
  readonly pollMs?: number;
}

/**
 * Tells systemd (Type=notify) how the box is doing, over sd_notify:
 * - READY=1 once every function's connections are up (CAN_DO goes out with each connect),
 *   or after `readyTimeoutMs`, with STATUS= saying what is missing;
 * - STATUS= a one-line summary whenever it changes (`systemctl status` shows it);
 * - RELOADING=1 with MONOTONIC_USEC= (systemd 253+ wants it) while a manifest is applied,
 *   READY=1 after;
 * - STOPPING=1 when a drain or shutdown begins;
 * - WATCHDOG=1 every `watchdogIntervalMs` (WatchdogSec/2) from a timer on the main thread:
 *   a blocked event loop sends none, and systemd restarts the box.
 */
export class ServiceNotifier {
  #supervisor: Supervisor | null = null;
  readonly #sender: NotifySender;
  readonly #log: Logger;
  readonly #readyTimeoutMs: number;
  readonly #pollMs: number;
  readonly #watchdogIntervalMs: number | null;
  readonly #onLifecycle: (...args: SupervisorEvents['lifecycle']) => void;
  #state: 'starting' | 'ready' | 'reloading' | 'stopping' = 'starting';
  #startedAt = 0;
  #lastStatus = '';
  #poll: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;

  constructor(options: ServiceNotifierOptions) {
    this.#sender = options.sender;
    this.#log = (options.logger ?? silentLogger).child({ component: 'sd_notify' });
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 250;
    this.#watchdogIntervalMs = options.watchdogIntervalMs;
    this.#onLifecycle = (state) => this.#lifecycle(state);
  }

  /**
   * The notifier systemd asked for, or null when $NOTIFY_SOCKET is unset. Takes the
   * variables out of `env` (see takeNotifyEnvironment): call it before anything spawns.
   */
  static fromEnvironment(
    env: NodeJS.ProcessEnv,
    logger?: Logger,
    options: Pick<ServiceNotifierOptions, 'readyTimeoutMs' | 'pollMs'> = {},
  ): ServiceNotifier | null {
    const wanted = takeNotifyEnvironment(env, process.pid);
    if (wanted === null) return null;
    return new ServiceNotifier({
      sender: new NotifySender({ socket: wanted.socket, ...(logger ? { logger } : {}) }),
      watchdogIntervalMs: wanted.watchdogIntervalMs,
      ...(logger ? { logger } : {}),
      ...options,
    });
  }

  /** Starts following `supervisor`; call once it has started. */
  start(supervisor: Supervisor): void {
    this.#supervisor = supervisor;
    this.#startedAt = performance.now();
    supervisor.on('lifecycle', this.#onLifecycle);
    this.#poll = setInterval(() => this.#check(), this.#pollMs);
    this.#poll.unref();
    if (this.#watchdogIntervalMs !== null) {
      this.#watchdog = setInterval(() => this.#sender.send(['WATCHDOG=1']), this.#watchdogIntervalMs);
      this.#watchdog.unref();
      this.#sender.send(['WATCHDOG=1']);
    }
    this.#check();
  }

  /**
   * Stops the timers; resolves once queued messages are out (STOPPING=1 among them), or
   * after 2 s: a stuck systemd-notify must not hold up the exit.
   */
  async close(): Promise<void> {
    this.#supervisor?.off('lifecycle', this.#onLifecycle);
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
      timer.unref();
    });
    await Promise.race([this.#sender.flush(), giveUp]);
    clearTimeout(timer);
  }

  #lifecycle(state: SupervisorEvents['lifecycle'][0]): void {
    if (state === 'stopping') {
      this.#state = 'stopping';
      this.#lastStatus = this.#status();
      this.#sender.send(['STOPPING=1', `STATUS=${this.#lastStatus}`]);
    } else if (state === 'reloading' && this.#state === 'ready') {
      this.#state = 'reloading';
      this.#lastStatus = this.#status();
      // CLOCK_MONOTONIC in microseconds: what process.hrtime reads on Linux.
      const usec = process.hrtime.bigint() / 1000n;
      this.#sender.send(['RELOADING=1', `MONOTONIC_USEC=${usec}`, `STATUS=${this.#lastStatus}`]);
    } else if (state === 'reloaded' && this.#state === 'reloading') {
      this.#state = 'ready';
      this.#lastStatus = this.#status();
      this.#sender.send(['READY=1', `STATUS=${this.#lastStatus}`]);
    }
  }

  #check(): void {
    if (this.#state === 'starting') {
      const missing = missingConnections(this.#functions());
      const waited = performance.now() - this.#startedAt;
      if (missing.length > 0 && waited < this.#readyTimeoutMs) {
        this.#sendStatus();
        return;
      }
      this.#state = 'ready';
      if (missing.length > 0) {
        this.#log.warn(
          { missing },
          `ready after ${Math.round(waited)} ms without every connection: ${missing.join('; ')}`,
        );
      }
      this.#lastStatus = this.#status();
      this.#sender.send(['READY=1', `STATUS=${this.#lastStatus}`]);
      return;
    }
    this.#sendStatus();
  }

  #sendStatus(): void {
    const status = this.#status();
    if (status === this.#lastStatus) return;
    this.#lastStatus = status;
    this.#sender.send([`STATUS=${status}`]);
  }

  #status(): string {
    return statusLine(this.#state, this.#functions());
  }

  #functions(): FunctionSnapshot[] {
    return this.#supervisor?.functions() ?? [];
  }
}
