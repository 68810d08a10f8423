import { ErrorCode, GearmanError, TimeoutError } from '../errors.js';
import type { PacketType } from '../protocol/constants.js';
import type { Packet } from '../protocol/packet.js';
import { type Deferred, deferred } from './deferred.js';
import { GiveUp } from './give-up.js';
import type { PendingReply, ReplyLink } from './pending-reply.js';

/** What GET_STATUS answers (STATUS_RES). */
export interface JobStatus {
  readonly handle: string;
  /** The server knows the job (queued or running). */
  readonly known: boolean;
  /** A worker is running it. */
  readonly running: boolean;
  /** The last WORK_STATUS the worker sent (0/0 if none). */
  readonly numerator: number;
  readonly denominator: number;
}

/** What GET_STATUS_UNIQUE answers (STATUS_RES_UNIQUE). */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** How many foreground clients wait for the job. */
  readonly waitingClients: number;
}

type Parse<T> = (packet: Packet) => T;
/** Runs once the answer is accepted, with the link it came on (no closure per request). */
type OnAnswer<T> = (value: T, link: ReplyLink) => void;

/**
 * A request that expects one reply on its connection (JOB_CREATED for a background
 * submit, STATUS_RES, STATUS_RES_UNIQUE, ECHO_RES, OPTION_RES), or ERROR instead. gearmand
 * answers the requests of one connection in order, so replies are matched by position.
 */
export class Request<T> implements PendingReply {
  /** The packet type that answers this request. */
  readonly answer: PacketType;
  readonly #parse: Parse<T>;
  readonly #onAnswer: OnAnswer<T> | undefined;
  readonly #deferred: Deferred<T>;
  #settled = false;
  #wait: GiveUp | null = null;

  constructor(answer: PacketType, parse: Parse<T>, onAnswer?: OnAnswer<T>) {
    this.answer = answer;
    this.#parse = parse;
    this.#onAnswer = onAnswer;
    this.#deferred = deferred<T>();
  }

  get promise(): Promise<T> {
    return this.#deferred.promise;
  }

  /** True once answered or failed; a request still unsent is then dropped. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Fails the request after `timeoutMs` or when `signal` aborts. */
  arm(timeoutMs: number | undefined, signal: AbortSignal | undefined, what: string): void {
    this.#wait = GiveUp.arm(timeoutMs, signal, (cause) =>
      this.fail(
        cause === 'timeout'
          ? new TimeoutError(`${what} got no answer within ${timeoutMs} ms`)
          : new GearmanError(ErrorCode.ABORTED, `${what} was aborted`, { cause: signal?.reason }),
      ),
    );
  }

  /** A request is not told where it went: only a foreground job reports its server. */
  sent(): void {}

  accept(packet: Packet, link: ReplyLink): void {
    if (this.#settled) return;
    let value: T;
    try {
      value = this.#parse(packet);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.#settle();
    this.#deferred.resolve(value);
    this.#onAnswer?.(value, link);
  }

  fail(error: Error): void {
    if (this.#settled) return;
    this.#settle();
    this.#deferred.reject(error);
  }

  #settle(): void {
    this.#settled = true;
    if (this.#wait !== null) {
      this.#wait.cancel();
      this.#wait = null;
    }
  }
}

/**
 * The job handle of a packet. Handles are ASCII (`H:host:n`); latin1 decodes them without
 * UTF-8 validation. A trailing NUL is dropped: gearmand 1.1.20 turns a WORK_EXCEPTION into
 * WORK_FAIL for clients without the exceptions option by copying the handle argument with
 * its separator, so that WORK_FAIL's body is `H:host:n\0` (server.cc _server_queue_work_data).
 */
export function handleOf(packet: Packet): string {
  const arg = packet.args[0] as Buffer;
  const end = arg.length > 0 && arg[arg.length - 1] === 0 ? arg.length - 1 : arg.length;
  return arg.toString('latin1', 0, end);
}

function int(arg: Buffer | undefined): number {
  return arg === undefined ? 0 : Number(arg.toString('latin1'));
}

export const parseJobCreated: Parse<string> = handleOf;

/** A background job was created: its link remembers it for getStatus. */
export const onBackgroundCreated: OnAnswer<string> = (handle, link) => link.backgroundCreated(handle);

export const parseStatus: Parse<JobStatus> = (packet) => ({
  handle: handleOf(packet),
  known: int(packet.args[1]) === 1,
  running: int(packet.args[2]) === 1,
  numerator: int(packet.args[3]),
  denominator: int(packet.args[4]),
});

export const parseUniqueStatus: Parse<UniqueJobStatus> = (packet) => ({
  unique: (packet.args[0] as Buffer).toString('utf8'),
  known: int(packet.args[1]) === 1,
  running: int(packet.args[2]) === 1,
  numerator: int(packet.args[3]),
  denominator: int(packet.args[4]),
  waitingClients: int(packet.args[5]),
});

/** ECHO_RES data, copied so it does not pin the socket's chunk. */
export const parseEcho: Parse<Buffer> = (packet) => Buffer.from(packet.args[0] as Buffer);

export const parseOption: Parse<string> = (packet) => (packet.args[0] as Buffer).toString('utf8');
