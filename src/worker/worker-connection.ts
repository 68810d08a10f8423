import { ConnectionError, ErrorCode, GearmanError, ServerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import { PacketType } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/encoder.js';
import {
  FRAME_GRAB_JOB,
  FRAME_GRAB_JOB_ALL,
  FRAME_GRAB_JOB_UNIQ,
  FRAME_PRE_SLEEP,
} from '../protocol/frames.js';
import { argString, type Packet } from '../protocol/packet.js';
import type { GrabGate } from './grab-gate.js';
import { Job, type JobHost, type JobOutcome, jobControl } from './job.js';
import type { GrabMode, JobResult } from './options.js';
import type { FunctionRegistry } from './registry.js';
import { isThenable, replyWithError, replyWithResult } from './reply.js';

/** What one grab loop reports to its Worker. */
export interface WorkerContext {
  readonly registry: FunctionRegistry;
  jobStarted(job: Job): void;
  jobEnded(job: Job, outcome: JobOutcome, durationMs: number): void;
  error(error: GearmanError, server: string): void;
  connected(server: string, reconnect: boolean): void;
  disconnected(server: string, error: GearmanError): void;
  reconnecting(server: string, info: { attempt: number; delayMs: number; error: GearmanError }): void;
  reconnected(server: string): void;
}

export interface GrabLoopOptions {
  readonly maxJobs: number;
  readonly grab: GrabMode;
  readonly regrabIntervalMs: number;
  /** Thrown errors become WORK_EXCEPTION (true) or WORK_FAIL (false). */
  readonly exceptions: boolean;
  readonly gate: GrabGate | undefined;
  readonly logger: Logger;
}

/** Drops while probing GRAB_JOB_ALL after which a server is taken not to know it. */
const kProbeDropLimit = 2;

/**
 * The grab loop for one socket to one job server. It keeps `running + outstanding
 * grabs <= maxJobs`, so up to maxJobs grabs are pipelined; a job's terminal packet and
 * the grab that refills its slot are queued in the same tick and leave in one write.
 * After NO_JOB it stops grabbing, sends PRE_SLEEP once no grab is outstanding, and waits
 * for NOOP (or the re-grab timer). Registrations are replayed on every (re)connect.
 *
 * Sleep with the grab: while the queue looks empty (a grab came back NO_JOB, or a NOOP
 * woke the connection with nothing running), the grabs go out with a PRE_SLEEP right
 * behind them in the same write. The server answers the grab, then puts the connection
 * to sleep (or NOOPs it at once if jobs wait), so a NO_JOB needs no reply and, once the
 * job ends, nothing needs grabbing until the next NOOP: two reads and two writes per
 * job instead of three each. Under a backlog it goes back to plain grabs, since every
 * PRE_SLEEP with jobs queued costs the server a NOOP. The invariant either way: with a
 * slot free, the server holds a grab of ours or has us asleep after a PRE_SLEEP sent
 * after our last grab (`#armed`), so no job can wait unseen.
 */
export class WorkerConnection implements JobHost {
  readonly name: string;
  readonly #conn: Connection;
  readonly #ctx: WorkerContext;
  readonly #log: Logger;
  readonly #regrabIntervalMs: number;
  readonly #exceptions: boolean;
  readonly #gate: GrabGate | undefined;
  #maxJobs: number;
  #grabFrame: Buffer;
  /** GRAB_JOB_ALL is in use but unconfirmed: one grab at a time until the server answers it. */
  #probing = false;
  #probeDrops = 0;
  #outstanding = 0;
  /** Jobs whose handlers have not returned yet (lost ones included: they still hold a slot). */
  readonly #running = new Set<Job>();
  /** NO_JOB seen: grab again only after NOOP, a registration, resume() or the re-grab timer. */
  #idle = false;
  /**
   * A PRE_SLEEP left after our last grab and its NOOP has not come: the server will wake us
   * for any new job (gearmand NOOPs a sleeping worker; a PRE_SLEEP that finds jobs queued is
   * answered with NOOP at once), so grabbing would find nothing it will not tell us about.
   */
  #armed = false;
  /** The queue looked empty lately: send PRE_SLEEP with the grabs (see the class comment). */
  #sleepy = false;
  /** Grab answers since the last PRE_SLEEP: jobs, and whether any was NO_JOB. */
  #jobsSinceSleep = 0;
  #noJobSinceSleep = false;
  #paused = false;
  #awaitingDrain = false;
  #regrabTimer: NodeJS.Timeout | null = null;
  #drainWaiters: Array<() => void> = [];

  constructor(conn: Connection, ctx: WorkerContext, options: GrabLoopOptions) {
    this.#conn = conn;
    this.name = conn.name;
    this.#ctx = ctx;
    this.#maxJobs = options.maxJobs;
    this.#regrabIntervalMs = options.regrabIntervalMs;
    this.#exceptions = options.exceptions;
    this.#gate = options.gate;
    this.#grabFrame =
      options.grab === 'all'
        ? FRAME_GRAB_JOB_ALL
        : options.grab === 'uniq'
          ? FRAME_GRAB_JOB_UNIQ
          : FRAME_GRAB_JOB;
    this.#log = options.logger.child({ component: 'worker', server: conn.name });
    conn.on('packet', (packet) => this.#onPacket(packet));
    conn.on('connect', ({ reconnect }) => this.#onConnect(reconnect));
    conn.on('disconnect', (error) => this.#onDisconnect(error));
    conn.on('reconnecting', (info) => ctx.reconnecting(this.name, info));
    conn.on('reconnect', () => ctx.reconnected(this.name));
    conn.on('protocolError', (error) => ctx.error(error, this.name));
    conn.on('drain', () => {
      if (this.#awaitingDrain) {
        this.#awaitingDrain = false;
        this.#fill();
      }
    });
  }

  /** Jobs whose handlers are still running on this connection. */
  get running(): number {
    return this.#running.size;
  }

  get connected(): boolean {
    return this.#conn.connected;
  }

  connect(): Promise<void> {
    return this.#conn.connect();
  }

  // --- JobHost ---------------------------------------------------------------------

  writeJobFrame(frame: Buffer): void {
    this.#conn.send(frame);
  }

  jobEnded(job: Job, outcome: JobOutcome): void {
    this.#ctx.jobEnded(job, outcome, performance.now() - jobControl.startedAt(job));
    // A job that sent its final packet is done for the server: its slot frees now, so the
    // next grab leaves in the same write (a handler that answers before it returns, as
    // the supervisor's do, would otherwise send it a turn later, in a segment of its own).
    // A lost job keeps its slot until its handler returns: that handler may still be busy.
    if (outcome !== 'lost' && this.#running.delete(job)) this.#fill();
  }

  // --- control from the Worker -----------------------------------------------------

  /** Sends registration frames now (if connected); `wake` re-grabs, since gearmand sends no NOOP for jobs already queued. */
  announce(frames: readonly Buffer[], wake: boolean): void {
    if (!this.#conn.connected) return;
    for (const frame of frames) this.#conn.send(frame);
    if (wake) this.#wake(true);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake(true);
  }

  /** A shared gate may have a free slot again: grab if awake. */
  refill(): void {
    this.#fill();
  }

  setMaxJobs(maxJobs: number): void {
    this.#maxJobs = maxJobs;
    this.#fill();
  }

  /** Resolves once no handler runs and no grab awaits its answer. */
  drained(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Aborts every running job: its result will not be sent. */
  abandonAll(reason: Error): void {
    for (const job of this.#running) jobControl.abandon(job, reason);
  }

  async close(): Promise<void> {
    this.#paused = true;
    this.#stopRegrabTimer();
    await this.#conn.close();
    // A closed Connection emits no 'disconnect': hand back what the grabs still reserve.
    while (this.#outstanding > 0) this.#answered(null);
    this.#checkDrained();
  }

  // --- the grab loop ---------------------------------------------------------------

  #onPacket(packet: Packet): void {
    // After close() the socket drains what the server still sends: a job now could not
    // be answered, and the server requeues it when the socket closes.
    if (!this.#conn.connected) return;
    const args = packet.args as Buffer[];
    switch (packet.type) {
      case PacketType.JOB_ASSIGN_UNIQ:
        this.#assign(args[0] as Buffer, args[1] as Buffer, args[2], undefined, args[3] as Buffer);
        return;
      case PacketType.JOB_ASSIGN_ALL:
        this.#assign(args[0] as Buffer, args[1] as Buffer, args[2], args[3], args[4] as Buffer);
        return;
      case PacketType.JOB_ASSIGN:
        this.#assign(args[0] as Buffer, args[1] as Buffer, undefined, undefined, args[2] as Buffer);
        return;
      case PacketType.NO_JOB:
        this.#onNoJob();
        return;
      case PacketType.NOOP:
        this.#onNoop();
        return;
      case PacketType.ERROR:
        this.#onError(argString(packet, 0), argString(packet, 1));
        return;
      default:
        // ECHO_RES, OPTION_RES and the like: nothing a grab loop waits for.
        this.#log.debug({ packetType: packet.type }, 'ignoring packet');
    }
  }

  #fill(): void {
    if (this.#paused || this.#idle || this.#armed || !this.#conn.connected) return;
    if (this.#conn.needDrain) {
      // The socket is full (big results): more jobs would only queue more bytes.
      this.#awaitingDrain = true;
      return;
    }
    if (this.#probing) {
      // One grab at a time, and never with PRE_SLEEP: an old server may refuse the grab.
      if (this.#outstanding === 0 && this.#running.size < this.#maxJobs) this.#grab();
      return;
    }
    let sent = 0;
    for (let free = this.#maxJobs - this.#running.size - this.#outstanding; free > 0; free--) {
      if (!this.#grab()) break;
      sent++;
    }
    if (sent > 0 && this.#sleepWithGrab()) this.#preSleep();
  }

  /** Sends one grab, unless the shared gate has no slot for what it would bring. */
  #grab(): boolean {
    if (this.#gate !== undefined && !this.#gate.tryReserve()) return false;
    this.#conn.send(this.#grabFrame);
    this.#outstanding++;
    // The server is awake for us again until a PRE_SLEEP follows.
    this.#armed = false;
    return true;
  }

  /**
   * Whether the grabs just sent take a PRE_SLEEP along. Not while probing GRAB_JOB_ALL, and
   * not while a function has a server-side timeout: gearmand 1.1.20 deletes the
   * connection's timeout timer on a PRE_SLEEP that finds nothing queued, and the grab in
   * front of it may just have started a timed job.
   */
  #sleepWithGrab(): boolean {
    return this.#sleepy && !this.#probing && !this.#ctx.registry.timed;
  }

  #preSleep(): void {
    this.#conn.send(FRAME_PRE_SLEEP);
    this.#armed = true;
    this.#jobsSinceSleep = 0;
    this.#noJobSinceSleep = false;
    this.#armRegrabTimer();
  }

  /** One grab was answered (with a job of `functionName`, or with nothing). */
  #answered(functionName: string | null): void {
    if (this.#outstanding === 0) return;
    this.#outstanding--;
    this.#gate?.release(functionName);
  }

  /**
   * Grab again. `force` grabs even when the server has us asleep: it sends no NOOP for jobs
   * already queued under a function just registered, and resume() grabs as it always has.
   */
  #wake(force: boolean): void {
    if (force) this.#armed = false;
    this.#idle = false;
    this.#fill();
  }

  #onNoop(): void {
    // The server sends one NOOP per PRE_SLEEP at most, and none until we grab again.
    this.#armed = false;
    this.#sleepy = this.#wokeFromEmptyQueue();
    this.#wake(false);
  }

  /**
   * Whether a NOOP woke us from a queue that was empty (a job just came: grab with
   * PRE_SLEEP) rather than from a backlog (gearmand answers a PRE_SLEEP that finds jobs
   * queued with NOOP at once: grab plainly, as PRE_SLEEP would only cost it more NOOPs).
   * A backlog shows as a NOOP that comes while a job runs or a grab is out, right behind
   * a job in the same read (that job's reply is not written yet), or after the grabs
   * ahead of the PRE_SLEEP all brought jobs, more than one of them.
   */
  #wokeFromEmptyQueue(): boolean {
    if (this.#outstanding > 0 || this.#running.size > 0 || this.#conn.writePending) return false;
    return this.#noJobSinceSleep || this.#jobsSinceSleep <= 1;
  }

  #assign(
    handle: Buffer,
    functionName: Buffer,
    unique: Buffer | undefined,
    reducer: Buffer | undefined,
    payload: Buffer,
  ): void {
    const name = functionName.toString('utf8');
    const registration = this.#ctx.registry.lookup(name);
    // The gate hears of the job before its handler runs, in the same tick.
    this.#answered(registration === undefined ? null : name);
    this.#jobsSinceSleep++;
    // While probing GRAB_JOB_ALL only one grab was out; the answer confirms it, so the
    // other slots can be grabbed for as soon as this job holds its own.
    const confirmed = this.#probing;
    this.#confirmGrab();
    // A job means the queue was not empty: keep the pipeline full again.
    this.#idle = false;
    if (registration === undefined) {
      this.#refuse(handle, name);
      return;
    }
    const job = new Job(this, handle, name, unique, reducer, payload);
    this.#running.add(job);
    if (registration.timeoutMs !== undefined) jobControl.armTimeout(job, registration.timeoutMs);
    this.#ctx.jobStarted(job);
    if (confirmed) this.#fill();
    let result: JobResult | Promise<JobResult>;
    try {
      result = registration.handler(job);
    } catch (err) {
      this.#settleError(job, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.#settle(job, value),
        (err: unknown) => this.#settleError(job, err),
      );
    } else {
      this.#settle(job, result);
    }
  }

  /** The handler returned: send its result unless the job already ended, then refill the slot. */
  #settle(job: Job, value: unknown): void {
    replyWithResult(job, value, this.#log);
    this.#release(job);
  }

  #settleError(job: Job, err: unknown): void {
    replyWithError(job, err, this.#exceptions, this.#log);
    this.#release(job);
  }

  #release(job: Job): void {
    this.#running.delete(job);
    // Same tick as the terminal packet: the coalescer sends both in one write.
    this.#fill();
    this.#checkDrained();
  }

  /** A job for a function never registered here: nobody can run it, so fail it rather than hold it. */
  #refuse(handle: Buffer, name: string): void {
    this.#conn.send(encodeRequest(PacketType.WORK_FAIL, [handle]));
    this.#ctx.error(
      new GearmanError(
        ErrorCode.PROTOCOL,
        `server assigned job ${handle.toString('latin1')} for unregistered function "${name}"; sent WORK_FAIL`,
      ),
      this.name,
    );
    this.#fill();
  }

  #onNoJob(): void {
    this.#answered(null);
    this.#confirmGrab();
    this.#idle = true;
    this.#sleepy = true;
    this.#noJobSinceSleep = true;
    // Armed: the PRE_SLEEP sent behind the grabs already put us to sleep. Otherwise only
    // once no grab is outstanding: a PRE_SLEEP ahead of a pending grab would be cancelled
    // by that grab.
    if (!this.#armed && this.#outstanding === 0) this.#preSleep();
    this.#checkDrained();
  }

  #onError(code: string, text: string): void {
    if (this.#probing && this.#outstanding > 0) {
      // The only thing on the wire was our first GRAB_JOB_ALL: this server refuses it.
      this.#answered(null);
      this.#fallBack(`server answered GRAB_JOB_ALL with ${code}`);
      this.#fill();
      this.#checkDrained();
      return;
    }
    // JOB_NOT_FOUND here usually answers a result sent after the server requeued the job
    // (a CAN_DO_TIMEOUT fired): worth reporting, never worth retrying.
    this.#ctx.error(new ServerError(code, text), this.name);
  }

  #confirmGrab(): void {
    this.#probing = false;
    this.#probeDrops = 0;
  }

  #fallBack(reason: string): void {
    this.#probing = false;
    this.#grabFrame = FRAME_GRAB_JOB_UNIQ;
    this.#log.warn({ reason }, 'falling back to GRAB_JOB_UNIQ');
  }

  #onConnect(reconnect: boolean): void {
    while (this.#outstanding > 0) this.#answered(null);
    this.#idle = false;
    this.#armed = false;
    // A fresh server connection: plain grabs until one comes back NO_JOB.
    this.#sleepy = false;
    this.#awaitingDrain = false;
    this.#probing = this.#grabFrame === FRAME_GRAB_JOB_ALL;
    // SET_CLIENT_ID, every CAN_DO and the first grabs leave in one write.
    for (const frame of this.#ctx.registry.replayFrames()) this.#conn.send(frame);
    this.#fill();
    this.#ctx.connected(this.name, reconnect);
  }

  #onDisconnect(error: GearmanError): void {
    if (this.#probing && this.#outstanding > 0 && ++this.#probeDrops >= kProbeDropLimit) {
      // Some old servers drop the connection on a packet type they do not know.
      this.#fallBack(`connection dropped ${this.#probeDrops} times with GRAB_JOB_ALL unanswered`);
    }
    while (this.#outstanding > 0) this.#answered(null);
    this.#idle = false;
    this.#armed = false;
    this.#stopRegrabTimer();
    const reason = new ConnectionError(
      ErrorCode.CONNECTION_CLOSED,
      'connection to the job server dropped; the server requeues the job',
      this.name,
      { cause: error },
    );
    for (const job of this.#running) jobControl.abandon(job, reason);
    this.#ctx.disconnected(this.name, error);
    this.#checkDrained();
  }

  #armRegrabTimer(): void {
    if (this.#regrabIntervalMs === 0) return;
    if (this.#regrabTimer === null) {
      this.#regrabTimer = setTimeout(() => this.#onRegrabTimer(), this.#regrabIntervalMs);
      this.#regrabTimer.unref();
    } else {
      this.#regrabTimer.refresh();
    }
  }

  #stopRegrabTimer(): void {
    if (this.#regrabTimer !== null) {
      clearTimeout(this.#regrabTimer);
      this.#regrabTimer = null;
    }
  }

  /**
   * Still asleep after the interval: grab once anyway. gearmand 1.1.x never wakes a
   * worker when an epoch job falls due (fixed in 2.0.0, ccd32d06).
   */
  #onRegrabTimer(): void {
    if (!(this.#idle || this.#armed) || !this.#conn.connected) return; // awake; the next sleep re-arms
    if (this.#paused || this.#outstanding > 0 || this.#running.size >= this.#maxJobs) {
      this.#regrabTimer?.refresh();
      return;
    }
    // The grab ends our sleep on the server: PRE_SLEEP goes right behind it again when it
    // may (re-arming this timer), else the NO_JOB that answers it sends one.
    const sleep = this.#armed && this.#sleepWithGrab();
    if (this.#grab() && sleep) this.#preSleep();
  }

  #isDrained(): boolean {
    return this.#running.size === 0 && this.#outstanding === 0;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || !this.#isDrained()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
