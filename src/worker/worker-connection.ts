import { ConnectionError, ErrorCode, GearmanError, ServerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import { PacketType } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/encoder.js';
import { argString, type Packet } from '../protocol/packet.js';
import type { GrabGate } from './grab-gate.js';
import { GrabScheduler } from './grab-scheduler.js';
import { Job, type JobHost, type JobOutcome, jobControl } from './job.js';
import { JobSlots } from './job-slots.js';
import type { GrabMode, JobResult } from './options.js';
import type { AnnouncedFunctions } from './registry.js';
import { isThenable, replyWithError, replyWithResult } from './reply.js';

/**
 * What one grab loop reports to its Worker: its jobs and the errors only it can see. The
 * connection's own events (connect, disconnect, reconnecting, malformed data) reach the
 * Worker straight from the Connection, not through here.
 */
export interface WorkerContext {
  readonly registry: AnnouncedFunctions;
  jobStarted(job: Job): void;
  jobEnded(job: Job, outcome: JobOutcome): void;
  error(error: GearmanError, server: string): void;
}

export interface GrabLoopOptions {
  readonly maxJobs: number;
  readonly grab: GrabMode;
  readonly regrabIntervalMs: number;
  /** Thrown errors become WORK_EXCEPTION (true) or WORK_FAIL (false). */
  readonly exceptions: boolean;
  /** Largest frame data sent: a job whose result or update is bigger fails instead. */
  readonly maxFrameSize: number;
  readonly gate: GrabGate | undefined;
  readonly logger: Logger;
}

/**
 * The grab loop for one socket to one job server. It keeps `running + outstanding
 * grabs <= maxJobs`, so up to maxJobs grabs are pipelined; a job's terminal packet and
 * the grab that refills its slot are queued in the same tick and leave in one write.
 * After NO_JOB it stops grabbing, sends PRE_SLEEP once no grab is outstanding, and waits
 * for NOOP (or the re-grab timer). Registrations are replayed on every (re)connect.
 *
 * This class reads the server's packets, runs the jobs they assign and answers them.
 * What runs and what is grabbed for is counted in `slots` (JobSlots); when to grab and to
 * sleep is decided by `grabs` (GrabScheduler) alone, which hears of every event that can
 * make a grab due from here (packets, jobs ending, connects) or from the Worker (pause,
 * resume, a shared gate freeing a slot, a new limit). Events flow one way: Connection ->
 * this class -> GrabScheduler, and this class -> WorkerContext -> Worker.
 */
export class WorkerConnection implements JobHost {
  readonly name: string;
  readonly exceptions: boolean;
  readonly maxFrameSize: number;
  readonly connection: Connection;
  /** Jobs running and grabs out on this connection; read it, change it through `grabs`. */
  readonly slots: JobSlots;
  readonly grabs: GrabScheduler;
  readonly #ctx: WorkerContext;
  readonly #log: Logger;

  constructor(conn: Connection, ctx: WorkerContext, options: GrabLoopOptions) {
    this.connection = conn;
    this.name = conn.name;
    this.#ctx = ctx;
    this.exceptions = options.exceptions;
    this.maxFrameSize = options.maxFrameSize;
    this.#log = options.logger.child({ component: 'worker', server: conn.name });
    this.slots = new JobSlots(options.maxJobs, options.gate);
    this.grabs = new GrabScheduler(conn, this.slots, ctx.registry, options, this.#log);
    conn.on('packet', (packet) => this.#onPacket(packet));
    conn.on('connect', () => this.#onConnect());
    conn.on('disconnect', (error) => this.#onDisconnect(error));
  }

  // --- JobHost ---------------------------------------------------------------------

  writeJobFrame(frame: Buffer): void {
    this.connection.send(frame);
  }

  frameRefused(job: Job, error: GearmanError, bytes: number): void {
    this.#log.warn(
      { jobHandle: job.handle, function: job.functionName, bytes, limit: this.maxFrameSize },
      error.message,
    );
  }

  jobEnded(job: Job, outcome: JobOutcome): void {
    this.#ctx.jobEnded(job, outcome);
    // A job that sent its final packet is done for the server: its slot frees now, so the
    // next grab leaves in the same write (a handler that answers before it returns, as
    // the supervisor's do, would otherwise send it a turn later, in a segment of its own).
    // A lost job keeps its slot until its handler returns: that handler may still be busy.
    if (outcome !== 'lost') this.grabs.released(job);
  }

  // --- control from the Worker -----------------------------------------------------

  /** Sends registration frames now (if connected); `wake` re-grabs, since gearmand sends no NOOP for jobs already queued. */
  announce(frames: readonly Buffer[], wake: boolean): void {
    if (!this.connection.connected) return;
    for (const frame of frames) this.connection.send(frame);
    if (wake) this.grabs.wake();
  }

  async close(): Promise<void> {
    this.grabs.stop();
    await this.connection.close();
    // A closed Connection emits no 'disconnect': hand back what the grabs still reserve.
    this.slots.answerAll();
  }

  // --- packets and jobs ------------------------------------------------------------

  #onPacket(packet: Packet): void {
    // After close() the socket drains what the server still sends: a job now could not
    // be answered, and the server requeues it when the socket closes.
    if (!this.connection.connected) return;
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
        this.grabs.noJob();
        return;
      case PacketType.NOOP:
        this.grabs.noop();
        return;
      case PacketType.ERROR:
        this.#onError(argString(packet, 0), argString(packet, 1));
        return;
      default:
        // ECHO_RES, OPTION_RES and the like: nothing a grab loop waits for.
        this.#log.debug({ packetType: packet.type }, 'ignoring packet');
    }
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
    if (registration === undefined) {
      this.#refuse(handle, name);
      return;
    }
    const job = new Job(this, handle, name, unique, reducer, payload);
    // From here the job holds its slot, in the shared gate too: grabs may follow.
    this.grabs.assigned(job);
    if (registration.timeoutMs !== undefined) jobControl.armTimeout(job, registration.timeoutMs);
    this.#ctx.jobStarted(job);
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

  /**
   * The handler returned: send its result unless the job already ended, then free its
   * slot (sending the result freed it already, unless the job was lost): the refill grab
   * is queued in the same tick as the terminal packet, and the coalescer sends both in
   * one write.
   */
  #settle(job: Job, value: unknown): void {
    replyWithResult(job, value, this.#log);
    this.grabs.released(job);
  }

  #settleError(job: Job, err: unknown): void {
    replyWithError(job, err, this.exceptions, this.#log);
    this.grabs.released(job);
  }

  /** A job for a function never registered here: nobody can run it, so fail it rather than hold it. */
  #refuse(handle: Buffer, name: string): void {
    this.connection.send(encodeRequest(PacketType.WORK_FAIL, [handle]));
    this.grabs.unrunnable();
    this.#ctx.error(
      new GearmanError(
        ErrorCode.PROTOCOL,
        `server assigned job ${handle.toString('latin1')} for unregistered function "${name}"; sent WORK_FAIL`,
      ),
      this.name,
    );
  }

  #onError(code: string, text: string): void {
    if (this.grabs.probeRefused(code)) return;
    // JOB_NOT_FOUND here usually answers a result sent after the server requeued the job
    // (a CAN_DO_TIMEOUT fired): worth reporting, never worth retrying.
    this.#ctx.error(new ServerError(code, text), this.name);
  }

  // --- the connection --------------------------------------------------------------

  #onConnect(): void {
    // SET_CLIENT_ID, every CAN_DO and the first grabs leave in one write.
    for (const frame of this.#ctx.registry.replayFrames()) this.connection.send(frame);
    this.grabs.connected();
  }

  #onDisconnect(error: GearmanError): void {
    this.grabs.disconnected();
    const reason = new ConnectionError(
      ErrorCode.CONNECTION_CLOSED,
      'connection to the job server dropped; the server requeues the job',
      this.name,
      { cause: error },
    );
    this.slots.abandonAll(reason);
  }
}
