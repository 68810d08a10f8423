/**
 * When one worker connection sleeps and wakes: after NO_JOB it stops grabbing, it is
 * asleep on the server from a PRE_SLEEP until the NOOP that answers it, and a re-grab
 * timer wakes it where the server would not. Sending the packets is GrabScheduler's part.
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
export class SleepState {
  readonly #regrabIntervalMs: number;
  readonly #onRegrabTimer: () => void;
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
  #regrabTimer: NodeJS.Timeout | null = null;

  /** `onRegrabTimer` runs `regrabIntervalMs` after a PRE_SLEEP (0: never). */
  constructor(regrabIntervalMs: number, onRegrabTimer: () => void) {
    this.#regrabIntervalMs = regrabIntervalMs;
    this.#onRegrabTimer = onRegrabTimer;
  }

  /** Idle after NO_JOB, or asleep on the server: no grab until something wakes us. */
  get waiting(): boolean {
    return this.#idle || this.#armed;
  }

  get armed(): boolean {
    return this.#armed;
  }

  get sleepy(): boolean {
    return this.#sleepy;
  }

  grabSent(): void {
    // The server is awake for us again until a PRE_SLEEP follows.
    this.#armed = false;
  }

  preSleepSent(): void {
    this.#armed = true;
    this.#jobsSinceSleep = 0;
    this.#noJobSinceSleep = false;
    this.#armRegrabTimer();
  }

  jobAssigned(): void {
    this.#jobsSinceSleep++;
    // A job means the queue was not empty: keep the pipeline full again.
    this.#idle = false;
  }

  /** NO_JOB: stop grabbing. Returns whether a PRE_SLEEP should go now. */
  noJob(grabsOut: number): boolean {
    this.#idle = true;
    this.#sleepy = true;
    this.#noJobSinceSleep = true;
    // Armed: the PRE_SLEEP sent behind the grabs already put us to sleep. Otherwise only
    // once no grab is outstanding: a PRE_SLEEP ahead of a pending grab would be cancelled
    // by that grab.
    return !this.#armed && grabsOut === 0;
  }

  /** NOOP: the server woke us. What it says of the queue is in #wokeFromEmptyQueue. */
  noop(grabsOut: number, jobsRunning: number, repliesUnwritten: boolean): void {
    // The server sends one NOOP per PRE_SLEEP at most, and none until we grab again.
    this.#armed = false;
    this.#sleepy = this.#wokeFromEmptyQueue(grabsOut, jobsRunning, repliesUnwritten);
  }

  /** Grab again; `force` even while the server has us asleep. */
  wake(force: boolean): void {
    if (force) this.#armed = false;
    this.#idle = false;
  }

  connected(): void {
    this.#idle = false;
    this.#armed = false;
    // A fresh server connection: plain grabs until one comes back NO_JOB.
    this.#sleepy = false;
  }

  disconnected(): void {
    this.#idle = false;
    this.#armed = false;
    this.stopRegrabTimer();
  }

  /** Asleep still, but no grab may go now: try again after another interval. */
  refreshRegrabTimer(): void {
    this.#regrabTimer?.refresh();
  }

  stopRegrabTimer(): void {
    if (this.#regrabTimer !== null) {
      clearTimeout(this.#regrabTimer);
      this.#regrabTimer = null;
    }
  }

  /**
   * Whether a NOOP woke us from a queue that was empty (a job just came: grab with
   * PRE_SLEEP) rather than from a backlog (gearmand answers a PRE_SLEEP that finds jobs
   * queued with NOOP at once: grab plainly, as PRE_SLEEP would only cost it more NOOPs).
   * A backlog shows as a NOOP that comes while a job runs or a grab is out, right behind
   * a job in the same read (that job's reply is not written yet), or after the grabs
   * ahead of the PRE_SLEEP all brought jobs, more than one of them.
   */
  #wokeFromEmptyQueue(grabsOut: number, jobsRunning: number, repliesUnwritten: boolean): boolean {
    if (grabsOut > 0 || jobsRunning > 0 || repliesUnwritten) return false;
    return this.#noJobSinceSleep || this.#jobsSinceSleep <= 1;
  }

  #armRegrabTimer(): void {
    if (this.#regrabIntervalMs === 0) return;
    if (this.#regrabTimer === null) {
      this.#regrabTimer = setTimeout(this.#onRegrabTimer, this.#regrabIntervalMs);
      this.#regrabTimer.unref();
    } else {
      this.#regrabTimer.refresh();
    }
  }
}
