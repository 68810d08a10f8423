import { PacketType } from '../../protocol/constants.js';
import type { ServerJob } from '../job.js';
import { handleFrame } from '../job-frames.js';
import type { Ability, Peer, ReplySlot } from '../peer.js';

/** What the job engine tells an HTTP request about its job, decoded from the frames it sends. */
export interface JobEvents {
  /** JOB_CREATED. */
  created(handle: string): void;
  /** WORK_DATA. */
  data(chunk: Buffer): void;
  /** WORK_COMPLETE. */
  complete(result: Buffer): void;
  /** WORK_FAIL. */
  failed(): void;
  /** WORK_EXCEPTION (the gateway asks for exceptions, as a client sending OPTION_REQ would). */
  exception(payload: Buffer): void;
  /** ERROR, e.g. QUEUE_ERROR for a full queue or a failed store write. */
  error(code: string, text: string): void;
}

const kHeaderSize = 12;

/**
 * One HTTP request, as the job engine sees it: a client connection that submits one job
 * and asked for exceptions. The engine talks to its peers in response frames (the same
 * bytes it sends binary clients, built once per job for all of them); this peer reads
 * the type and arguments back out of them. It never registers functions, so it is
 * never sent NOOP or JOB_ASSIGN; WORK_STATUS and WORK_WARNING have no HTTP form and are
 * dropped.
 */
export class HttpJobPeer implements Peer {
  readonly id: number;
  exceptions = true;
  readonly running = new Set<ServerJob>();
  readonly waiting = new Set<ServerJob>();
  readonly abilities: Ability[] = [];
  sleeping = false;
  noopSent = false;
  readonly #events: JobEvents;
  /** Frames held behind a reply still waiting for the store (see Peer.defer), or null. */
  #held: Array<{ frame: Buffer | null }> | null = null;

  constructor(id: number, events: JobEvents) {
    this.id = id;
    this.#events = events;
  }

  send(frame: Buffer): void {
    if (this.#held !== null) this.#held.push({ frame });
    else this.#deliver(frame);
  }

  sendJobFrame(type: PacketType, job: ServerJob): void {
    this.send(handleFrame(type, job));
  }

  defer(): ReplySlot {
    const slot: { frame: Buffer | null } = { frame: null };
    this.#held ??= [];
    this.#held.push(slot);
    return {
      resolve: (frame) => {
        slot.frame = frame;
        this.#release();
      },
    };
  }

  #release(): void {
    const held = this.#held;
    while (held !== null && held.length > 0 && (held[0] as { frame: Buffer | null }).frame !== null) {
      this.#deliver((held.shift() as { frame: Buffer }).frame);
    }
    if (held !== null && held.length === 0) this.#held = null;
  }

  /** One buffer may hold several frames (a result-cache hit is JOB_CREATED and WORK_COMPLETE). */
  #deliver(frames: Buffer): void {
    let at = 0;
    while (at + kHeaderSize <= frames.length) {
      const end = at + kHeaderSize + frames.readUInt32BE(at + 8);
      this.#deliverOne(frames.subarray(at, end));
      at = end;
    }
  }

  #deliverOne(frame: Buffer): void {
    const type = frame.readUInt32BE(4);
    const body = frame.subarray(kHeaderSize);
    const nul = body.indexOf(0);
    const first = nul === -1 ? body : body.subarray(0, nul);
    const rest = nul === -1 ? Buffer.alloc(0) : body.subarray(nul + 1);
    switch (type) {
      case PacketType.JOB_CREATED:
        this.#events.created(body.toString('latin1'));
        break;
      case PacketType.WORK_DATA:
        this.#events.data(rest);
        break;
      case PacketType.WORK_COMPLETE:
        this.#events.complete(rest);
        break;
      case PacketType.WORK_FAIL:
        this.#events.failed();
        break;
      case PacketType.WORK_EXCEPTION:
        this.#events.exception(rest);
        break;
      case PacketType.ERROR:
        this.#events.error(first.toString('latin1'), rest.toString('latin1'));
        break;
      default:
        // WORK_STATUS, WORK_WARNING: no place for them in one HTTP response.
        break;
    }
  }
}
