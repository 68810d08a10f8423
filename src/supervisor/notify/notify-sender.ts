import { spawn } from 'node:child_process';
import { type Logger, silentLogger } from '../../log.js';

export interface NotifySenderOptions {
  /** $NOTIFY_SOCKET. */
  readonly socket: string;
  readonly logger?: Logger;
  /** The helper to run. @defaultValue 'systemd-notify' (found on $PATH) */
  readonly command?: string;
}

/** Messages waiting for the helper; past this, new ones are dropped (and logged). */
const kMaxQueued = 16;
/** systemd-notify gives up on its barrier after 5 s; past this it is stuck. */
const kHelperTimeoutMs = 10_000;

/**
 * Sends sd_notify messages to $NOTIFY_SOCKET, one at a time and in order, through
 * systemd-notify: Node cannot open an AF_UNIX datagram socket (`dgram` has udp4/udp6 only)
 * and gworker takes no native addon for it. Run as a child, the helper:
 * - writes the datagram on our behalf: systemd-notify (v246+) sends with its parent's PID in
 *   the credentials when it may (as root), and otherwise with its own, which systemd accepts
 *   only with NotifyAccess=all (the unit sets it);
 * - waits (BARRIER=1, a pipe systemd closes once it has read everything before) until
 *   systemd has processed the message, so the helper is still alive, and still counted in
 *   the unit's cgroup, when systemd looks up who sent it. Without that wait a short-lived
 *   sender races its own exit, and systemd drops the message as from an unknown process.
 * A fork and exec per message is cheap at the rate gworker sends: READY, STATUS changes and
 * a WATCHDOG=1 every WatchdogSec/2.
 */
export class NotifySender {
  readonly #socket: string;
  readonly #command: string;
  readonly #log: Logger;
  readonly #queue: string[][] = [];
  #busy = false;
  #disabled = false;
  #failing = false;
  #idle: Array<() => void> = [];

  constructor(options: NotifySenderOptions) {
    this.#socket = options.socket;
    this.#command = options.command ?? 'systemd-notify';
    this.#log = (options.logger ?? silentLogger).child({ component: 'sd_notify' });
  }

  /** Queues one message: `VARIABLE=VALUE` assignments, sent as one datagram. */
  send(assignments: readonly string[]): void {
    if (this.#disabled) return;
    const key = assignments.join('\n');
    // A second identical message still waiting (a WATCHDOG=1 behind a slow helper) adds nothing.
    if (this.#queue.some((queued) => queued.join('\n') === key)) return;
    if (this.#queue.length >= kMaxQueued) {
      this.#log.warn(
        { dropped: key },
        `sd_notify: ${kMaxQueued} messages already wait for systemd-notify; dropping this one`,
      );
      return;
    }
    this.#queue.push([...assignments]);
    this.#next();
  }

  /** Resolves once every queued message was handed over (or given up on). */
  flush(): Promise<void> {
    if (!this.#busy && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #next(): void {
    if (this.#busy) return;
    const assignments = this.#queue.shift();
    if (assignments === undefined) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    this.#busy = true;
    const child = spawn(this.#command, assignments, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: this.#socket },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), kHelperTimeoutMs);
    timer.unref();
    let settled = false;
    // A helper that cannot start emits 'error' and may emit 'close' after it: settle once.
    const done = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (failure === null) this.#failing = false;
      else if (!this.#failing) {
        // Once per run of failures: a watchdog ping every few seconds must not flood the log.
        this.#failing = true;
        this.#log.warn({ message: assignments.join(' ') }, `sd_notify failed: ${failure}`);
      }
      this.#busy = false;
      this.#next();
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        this.#disabled = true;
        this.#queue.length = 0;
        this.#log.warn(
          `NOTIFY_SOCKET is set but ${this.#command} is not installed: systemd will not hear READY=1 ` +
            'or the watchdog (install systemd, or run the unit as Type=simple without WatchdogSec=)',
        );
        done(null);
      } else done(err.message);
    });
    child.once('close', (code, signal) => {
      if (code === 0) done(null);
      else done(`${this.#command} exited ${code ?? signal}: ${stderr.trim() || 'no message'}`);
    });
  }
}
