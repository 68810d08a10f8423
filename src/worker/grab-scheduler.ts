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
 * The one place that decides when one worker connection grabs and sends PRE_SLEEP (the
 * loop WorkerConnection describes). Everything that can make a grab due is told to it as
 * an event, and it alone decides whether one goes: a job arrived or ended, the server
 * answered NO_JOB, NOOP or ERROR, the connection came up or dropped, the socket drained,
 * a shared gate freed a slot, a function was registered, the Worker paused or resumed.
 * Every change to the counts in JobSlots goes through here too, so no grab can be sent
 * between a change and the decision it calls for. Which grab packet goes is GrabAllProbe's
 * choice; idle, asleep and whether the queue looks empty (sleep with the grab) are
 * SleepState's.
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
    conn.on('drain', () => this.#onSocketDrained());
  }

  // --- what the server answered ----------------------------------------------------

  /**
   * A grab brought `job`: its grab's slot (and the shared gate's reservation) becomes the
   * job's before anything can grab again, so the gate hears of it before its handler runs.
   */
  assigned(job: Job): void {
    this.#slots.assigned(job);
    // While probing GRAB_JOB_ALL only one grab was out; the answer confirms it, so the
    // other slots can be grabbed for now that this job holds its own.
    if (this.#answeredWithJob()) this.#fill();
  }

  /** A grab brought a job of a function not registered here (its WORK_FAIL is queued): its slot is free again. */
  unrunnable(): void {
    this.#slots.answered();
    this.#answeredWithJob();
    this.#fill();
  }

  noJob(): void {
    this.#slots.answered();
    this.#probe.confirm();
    if (this.#sleep.noJob(this.#slots.outstanding)) this.#preSleep();
  }

  noop(): void {
    this.#sleep.noop(this.#slots.outstanding, this.#slots.running, this.#conn.writePending);
    this.#sleep.wake(false);
    this.#fill();
  }

  /** Whether an ERROR packet answered our GRAB_JOB_ALL probe (and was handled here). */
  probeRefused(code: string): boolean {
    if (!(this.#probe.probing && this.#slots.outstanding > 0)) return false;
    // The only thing on the wire was our first GRAB_JOB_ALL: this server refuses it.
    this.#slots.answered();
    this.#probe.refused(code);
    this.#fill();
    return true;
  }

  // --- what happened on this side ---------------------------------------------------

  /**
   * `job` no longer holds its slot: its terminal packet is queued (a job done for the
   * server frees its slot then, so the refill grab leaves in the same write as the
   * result), or its handler returned. Later calls for the same job do nothing.
   */
  released(job: Job): void {
    if (this.#slots.remove(job)) this.#fill();
  }

  /**
   * A fresh server connection, with SET_CLIENT_ID and the registrations already queued:
   * nothing is outstanding on it and nobody sleeps, so the first grabs follow them in
   * the same write.
   */
  connected(): void {
    this.#slots.answerAll();
    this.#sleep.connected();
    this.#awaitingDrain = false;
    this.#probe.connected();
    this.#fill();
  }

  disconnected(): void {
    if (this.#slots.outstanding > 0) this.#probe.droppedWithGrabOut();
    this.#slots.answerAll();
    this.#sleep.disconnected();
  }

  // --- control from the Worker -----------------------------------------------------

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.wake();
  }

  /** The connection is closing: no grab from now on. */
  stop(): void {
    this.#paused = true;
    this.#sleep.stopRegrabTimer();
  }

  /** A shared gate may have a free slot again (Worker.refill): grab if awake. */
  gateFreed(): void {
    this.#fill();
  }

  /** A lower limit takes effect as jobs end; a higher one grabs now. */
  setMaxJobs(maxJobs: number): void {
    this.#slots.setMaxJobs(maxJobs);
    this.#fill();
  }

  /**
   * Grab even when the server has us asleep: it sends no NOOP for jobs already queued
   * under a function just registered, and resume() grabs as it always has.
   */
  wake(): void {
    this.#sleep.wake(true);
    this.#fill();
  }

  // --- the decision ----------------------------------------------------------------

  /** Grabs for every free slot, unless paused, idle, asleep, disconnected or the socket is full. */
  #fill(): void {
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

  /** Whether that answer (a job) confirmed GRAB_JOB_ALL while it was being probed. */
  #answeredWithJob(): boolean {
    this.#sleep.jobAssigned();
    const confirmed = this.#probe.probing;
    this.#probe.confirm();
    return confirmed;
  }

  #onSocketDrained(): void {
    if (this.#awaitingDrain) {
      this.#awaitingDrain = false;
      this.#fill();
    }
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
