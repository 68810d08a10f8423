/**
 * Lets the owner of several workers bound how many jobs they take in all. A connection
 * asks before every grab it sends; each yes holds one reservation until the grab is
 * answered (a job, NO_JOB, or a dropped connection). So a job is only ever grabbed when
 * a slot to run it is already free, and no job waits on this box while another box
 * could run it.
 */
export interface GrabGate {
  /** May one more grab be sent? A `true` reserves a slot for whatever it brings. */
  tryReserve(): boolean;
  /**
   * A reserved grab was answered: with a job of `functionName`, or with nothing (null).
   * With a job, the reservation becomes that job, held from this call on: its handler
   * starts in the same tick, and the connection may grab for its other slots right after
   * this returns, so a gate that counted the job any later would grant one slot twice.
   * The gate's owner hears of the job's end itself (and then calls `worker.refill()`).
   */
  release(functionName: string | null): void;
}
