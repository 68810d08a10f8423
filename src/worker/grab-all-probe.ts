import type { Logger } from '../log.js';
import { FRAME_GRAB_JOB, FRAME_GRAB_JOB_ALL, FRAME_GRAB_JOB_UNIQ } from '../protocol/frames.js';
import type { GrabMode } from './options.js';

/** Drops while probing GRAB_JOB_ALL after which a server is taken not to know it. */
const kProbeDropLimit = 2;

/**
 * Which grab packet one worker connection sends. GRAB_JOB_ALL is probed on every
 * connect: one grab at a time until the server answers it with a job or NO_JOB. A
 * server that answers it with ERROR, or drops the connection while it is unanswered
 * too often, gets GRAB_JOB_UNIQ from then on.
 */
export class GrabAllProbe {
  readonly #log: Logger;
  #frame: Buffer;
  /** GRAB_JOB_ALL is in use but unconfirmed: one grab at a time until the server answers it. */
  #probing = false;
  #drops = 0;

  constructor(mode: GrabMode, log: Logger) {
    this.#log = log;
    this.#frame =
      mode === 'all' ? FRAME_GRAB_JOB_ALL : mode === 'uniq' ? FRAME_GRAB_JOB_UNIQ : FRAME_GRAB_JOB;
  }

  /** The grab packet to send. */
  get frame(): Buffer {
    return this.#frame;
  }

  get probing(): boolean {
    return this.#probing;
  }

  /** A fresh server connection: probe again if GRAB_JOB_ALL is still in use. */
  connected(): void {
    this.#probing = this.#frame === FRAME_GRAB_JOB_ALL;
  }

  /** The server answered a grab with a job or NO_JOB: it knows the packet. */
  confirm(): void {
    this.#probing = false;
    this.#drops = 0;
  }

  /** The server answered the probe with ERROR `code`: it refuses GRAB_JOB_ALL. */
  refused(code: string): void {
    this.#fallBack(`server answered GRAB_JOB_ALL with ${code}`);
  }

  /** The connection dropped while a grab was unanswered. */
  droppedWithGrabOut(): void {
    if (this.#probing && ++this.#drops >= kProbeDropLimit) {
      // Some old servers drop the connection on a packet type they do not know.
      this.#fallBack(`connection dropped ${this.#drops} times with GRAB_JOB_ALL unanswered`);
    }
  }

  #fallBack(reason: string): void {
    this.#probing = false;
    this.#frame = FRAME_GRAB_JOB_UNIQ;
    this.#log.warn({ reason }, 'falling back to GRAB_JOB_UNIQ');
  }
}
