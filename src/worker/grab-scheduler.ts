import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import { FRAME_PRE_SLEEP } from '../protocol/frames.js';
import { GrabAllProbe } from './grab-all-probe.js';
import type { Job } from './job.js';
import type { JobSlots } from './job-slots.js';
import type { GrabMode } from './options.js';
import type { AnnouncedFunctions } from './registry.js';
import { SleepState } from './sleep-state.js';

/**
 * When one worker connection sends its grabs and PRE_SLEEP (the loop WorkerConnection
 * describes), and what the answers to them change: a job, NO_JOB, NOOP, or ERROR to a
 * GRAB_JOB_ALL probe. Which grab packet goes is GrabAllProbe's choice; idle, asleep and
 * whether the queue looks empty (sleep with the grab) are SleepState's; the counts are
 * JobSlots'.
 */
export class GrabScheduler {
  readonly #conn: Connection;
  readonly #slots: JobSlots;
  readonly #registry: AnnouncedFunctions;
  readonly #probe: GrabAllProbe;
  readonly #sleep: SleepState;
  #paused = false;
  #awaitingDrain = false;

  constructor(
    conn: Connection,
    slots: JobSlots,
    registry: AnnouncedFunctions,
    options: { readonly grab: GrabMode; readonly regrabIntervalMs: number },
    log: Logger,
  ) {
    this.#conn = conn;
    this.#slots = slots;
    this.#registry = registry;
    this.#probe = new GrabAllProbe(options.grab, log);
    this.#sleep = new SleepState(options.regrabIntervalMs, () => this.#onRegrabTimer());
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.wake(true);
  }

  /** The connection is closing: no grab from now on. */
  stop(): void {
    this.#paused = true;
    this.#sleep.stopRegrabTimer();
  }

  /** The socket accepts writes again. */
  socketDrained(): void {
    if (this.#awaitingDrain) {
      this.#awaitingDrain = false;
      this.fill();
    }
  }

  /** Grabs for every free slot, unless paused, idle, asleep, disconnected or the socket is full. */
  fill(): void {
    if (this.#paused || this.#sleep.waiting || !this.#conn.connected) return;
    if (this.#conn.needDrain) {
      // The socket is full (big results): more jobs would only queue more bytes.
      this.#awaitingDrain = true;
      return;
    }
    if (this.#probe.probing) {
      // One grab at a time, and never with PRE_SLEEP: an old server may refuse the grab.
      if (this.#slots.outstanding === 0 && this.#slots.runningBelowMax) this.#grab();
      return;
    }
    let sent = 0;
    for (let free = this.#slots.free; free > 0; free--) {
      if (!this.#grab()) break;
      sent++;
    }
    if (sent > 0 && this.#sleepWithGrab()) this.#preSleep();
  }

  /**
   * Grab again. `force` grabs even when the server has us asleep: it sends no NOOP for jobs
   * already queued under a function just registered, and resume() grabs as it always has.
   */
  wake(force: boolean): void {
    this.#sleep.wake(force);
    this.fill();
  }

  /**
   * A grab brought `job`, or a job of a function not registered here (null). Returns
   * whether that confirmed GRAB_JOB_ALL, so the other slots may be grabbed for now.
   */
  answeredWithJob(job: Job | null): boolean {
    // The job holds its slot, here and in the shared gate, before anything can grab
    // again: the gate hears of it before its handler runs, in the same step.
    if (job === null) this.#slots.answered();
    else this.#slots.assigned(job);
    this.#sleep.jobAssigned();
    // While probing GRAB_JOB_ALL only one grab was out; the answer confirms it, so the
    // other slots can be grabbed for now that this job holds its own.
    const confirmed = this.#probe.probing;
    this.#probe.confirm();
    return confirmed;
  }

  noJob(): void {
    this.#slots.answered();
    this.#probe.confirm();
    if (this.#sleep.noJob(this.#slots.outstanding)) this.#preSleep();
  }

  noop(): void {
    this.#sleep.noop(this.#slots.outstanding, this.#slots.running, this.#conn.writePending);
    this.wake(false);
  }

  /** Whether an ERROR packet answered our GRAB_JOB_ALL probe (and was handled here). */
  probeRefused(code: string): boolean {
    if (!(this.#probe.probing && this.#slots.outstanding > 0)) return false;
    // The only thing on the wire was our first GRAB_JOB_ALL: this server refuses it.
    this.#slots.answered();
    this.#probe.refused(code);
    this.fill();
    return true;
  }

  /** A fresh server connection: nothing is outstanding on it and nobody sleeps. */
  connected(): void {
    this.#slots.answerAll();
    this.#sleep.connected();
    this.#awaitingDrain = false;
    this.#probe.connected();
  }

  disconnected(): void {
    if (this.#slots.outstanding > 0) this.#probe.droppedWithGrabOut();
    this.#slots.answerAll();
    this.#sleep.disconnected();
  }

  /** Sends one grab, unless the shared gate has no slot for what it would bring. */
  #grab(): boolean {
    if (!this.#slots.tryReserve()) return false;
    this.#conn.send(this.#probe.frame);
    this.#slots.grabSent();
    this.#sleep.grabSent();
    return true;
  }

  /**
   * Whether the grabs just sent take a PRE_SLEEP along. Not while probing GRAB_JOB_ALL, and
   * not while a function has a server-side timeout: gearmand 1.1.20 deletes the
   * connection's timeout timer on a PRE_SLEEP that finds nothing queued, and the grab in
   * front of it may just have started a timed job.
   */
  #sleepWithGrab(): boolean {
    return this.#sleep.sleepy && !this.#probe.probing && !this.#registry.timed;
  }

  #preSleep(): void {
    this.#conn.send(FRAME_PRE_SLEEP);
    this.#sleep.preSleepSent();
  }

  /**
   * Still asleep after the interval: grab once anyway. gearmand 1.1.x never wakes a
   * worker when an epoch job falls due (fixed in 2.0.0, ccd32d06).
   */
  #onRegrabTimer(): void {
    if (!this.#sleep.waiting || !this.#conn.connected) return; // awake; the next sleep re-arms
    if (this.#paused || this.#slots.outstanding > 0 || !this.#slots.runningBelowMax) {
      this.#sleep.refreshRegrabTimer();
      return;
    }
    // The grab ends our sleep on the server: PRE_SLEEP goes right behind it again when it
    // may (re-arming this timer), else the NO_JOB that answers it sends one.
    const sleep = this.#sleep.armed && this.#sleepWithGrab();
    if (this.#grab() && sleep) this.#preSleep();
  }
}
