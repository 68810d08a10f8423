import { PacketType } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/encoder.js';
import { FRAME_RESET_ABILITIES } from '../protocol/frames.js';
import type { JobHandler } from './options.js';

export interface Registration {
  readonly name: string;
  readonly handler: JobHandler;
  readonly timeoutMs: number | undefined;
}

interface Entry extends Registration {
  /** Announced to the servers (CAN_DO sent and not withdrawn). */
  readonly active: boolean;
  /** The CAN_DO or CAN_DO_TIMEOUT frame, encoded once and replayed after every reconnect. */
  readonly frame: Buffer;
}

/**
 * The functions a worker announces, and the frames that announce them. Every change
 * returns the frames to send at once on each live connection; `replayFrames()` is what
 * a fresh connection needs (SET_CLIENT_ID first, then every active CAN_DO).
 */
export class AnnouncedFunctions {
  readonly #entries = new Map<string, Entry>();
  readonly #clientIdFrame: Buffer | undefined;
  #replay: readonly Buffer[] | null = null;
  /** Active registrations with a server-side timeout (CAN_DO_TIMEOUT). */
  #timed = 0;

  constructor(clientId: string | undefined) {
    this.#clientIdFrame =
      clientId === undefined ? undefined : encodeRequest(PacketType.SET_CLIENT_ID, [clientId]);
  }

  /** Names currently announced, in registration order. */
  get names(): string[] {
    const names: string[] = [];
    for (const entry of this.#entries.values()) if (entry.active) names.push(entry.name);
    return names;
  }

  /**
   * Jobs are looked up among withdrawn functions too: a grab already on the wire when
   * CANT_DO left can still bring one, and running it beats failing a client's job.
   */
  /**
   * True while an announced function has a server-side timeout. gearmand 1.1.20 deletes a
   * connection's CAN_DO_TIMEOUT timer when PRE_SLEEP finds nothing queued, even while that
   * connection runs a job (server.cc, PRE_SLEEP), so a grab loop must not send PRE_SLEEP
   * where a timed job may be running.
   */
  get timed(): boolean {
    return this.#timed > 0;
  }

  lookup(name: string): Registration | undefined {
    return this.#entries.get(name);
  }

  register(name: string, handler: JobHandler, timeoutMs: number | undefined): Buffer[] {
    const previous = this.#entries.get(name);
    if (previous?.active && previous.timeoutMs === timeoutMs) {
      // Same announcement: swap the handler silently. A second CAN_DO would make
      // gearmand list the function twice for this connection.
      this.#entries.set(name, { ...previous, handler });
      return [];
    }
    const frame =
      timeoutMs === undefined
        ? encodeRequest(PacketType.CAN_DO, [name])
        : // Decimal ASCII: gearmand parses it with strtol (a binary int reads as 0).
          encodeRequest(PacketType.CAN_DO_TIMEOUT, [name, String(timeoutMs)]);
    // Re-insert so the replay order follows the latest registration.
    this.#entries.delete(name);
    this.#entries.set(name, { name, handler, timeoutMs, active: true, frame });
    this.#replay = null;
    this.#countTimed();
    return previous?.active ? [encodeRequest(PacketType.CANT_DO, [name]), frame] : [frame];
  }

  /** Returns the CANT_DO to send, or undefined when the function was not announced. */
  unregister(name: string): Buffer | undefined {
    const entry = this.#entries.get(name);
    if (!entry?.active) return undefined;
    this.#entries.set(name, { ...entry, active: false });
    this.#replay = null;
    this.#countTimed();
    return encodeRequest(PacketType.CANT_DO, [name]);
  }

  reset(): Buffer {
    for (const [name, entry] of this.#entries) {
      if (entry.active) this.#entries.set(name, { ...entry, active: false });
    }
    this.#replay = null;
    this.#timed = 0;
    return FRAME_RESET_ABILITIES;
  }

  #countTimed(): void {
    let timed = 0;
    for (const entry of this.#entries.values()) if (entry.active && entry.timeoutMs !== undefined) timed++;
    this.#timed = timed;
  }

  replayFrames(): readonly Buffer[] {
    if (this.#replay === null) {
      const frames: Buffer[] = [];
      if (this.#clientIdFrame !== undefined) frames.push(this.#clientIdFrame);
      for (const entry of this.#entries.values()) if (entry.active) frames.push(entry.frame);
      this.#replay = frames;
    }
    return this.#replay;
  }
}
