import type { FunctionEntry } from './function-entry.js';
import type { JobHandles } from './job-handles.js';
import type { Peer, ReplySlot } from './peer.js';
import type { StoreKey } from './store.js';
import type { SubmitRecord } from './submit-record.js';
import { isPayloadKey } from './unique.js';

const kNoClients: readonly Peer[] = Object.freeze([]);

/** Bytes as a latin1 string; most submits have no unique, and toString('') is not free. */
function latin1(bytes: Buffer): string {
  return bytes.length === 0 ? '' : bytes.toString('latin1');
}

/** gearmand's three priorities, in the order a worker is served them. */
export const JobPriority = { HIGH: 0, NORMAL: 1, LOW: 2 } as const;
export type JobPriority = (typeof JobPriority)[keyof typeof JobPriority];

/**
 * Where a job is: waiting for its store write, waiting for its epoch time, in a
 * priority queue, running on a worker, or ended (removed from every index).
 */
export type JobState = 'persisting' | 'scheduled' | 'queued' | 'running' | 'done';

/** ServerJob#flags: bits 0-1 the priority, 2-4 the state, then the booleans. */
const kPriorityMask = 0b11;
const kStateShift = 2;
const kStateMask = 0b111 << kStateShift;
const kStates: readonly JobState[] = ['persisting', 'scheduled', 'queued', 'running', 'done'];
const kStateBits = Object.fromEntries(kStates.map((state, i) => [state, i << kStateShift])) as Record<
  JobState,
  number
>;
const kBackground = 1 << 5;
const kIgnore = 1 << 6;
const kQueued = 1 << 7;

/**
 * The fields of a job that stay at their defaults for most jobs (no retry, memory
 * store, no WORK_STATUS, no CAN_DO_TIMEOUT). They live apart, made on demand: every job
 * that waits in a queue is copied by a few young-generation GCs, and six fewer fields
 * make each copy ~20% smaller.
 */
class JobExtra {
  retries = 0;
  storeKey: StoreKey | undefined = undefined;
  pendingReplies: ReplySlot[] | null = null;
  numerator = 0;
  denominator = 0;
  timer: NodeJS.Timeout | null = null;
}

/**
 * One job, as gearmand's gearman_server_job_st. The fields are public because the
 * server's modules read them on the hot path; JobLifecycle (lifecycle.ts) is the only
 * writer: its setters, addClient(), dropClients() and removeClient() are called from
 * there alone. `next` is the JobQueue's link, which the queue sets.
 */
export class ServerJob {
  /** The handle's number: the key of the job index. */
  readonly id: number;
  readonly #handles: JobHandles;
  readonly fn: FunctionEntry;
  /**
   * The unique id as sent (may be empty, or `-`), as a latin1 string of its bytes: for a
   * plain unique it is the very string the unique index is keyed by, so a job holds no
   * extra buffer for it.
   */
  readonly unique: string;
  /** The key in the function's unique index, or null when the job never coalesces. */
  uniqueKey: string | null;
  /**
   * The payload is `#bytes[#dataStart, #dataEnd)`: for a submit, the received chunk it
   * came in. Kept as a range rather than a view, because a queued job lives long
   * enough to be copied by every young-generation GC, and a view is ~100 bytes more
   * per job to copy (a view would pin the same chunk).
   */
  readonly #bytes: Buffer;
  readonly #dataStart: number;
  readonly #dataEnd: number;
  /** Reducer function name for SUBMIT_REDUCE_JOB*, empty otherwise. */
  readonly reducer: Buffer;
  /** Epoch seconds before which the job must not run (SUBMIT_JOB_EPOCH), 0 for none. */
  readonly when: number;
  /**
   * The priority, the state and three booleans in one small integer (see the kFlag
   * constants), read and written through the accessors below: five fields fewer for
   * the young-generation GC to copy per queued job.
   */
  #flags: number;
  /**
   * Foreground clients, one entry per submit (a connection that submitted twice is here
   * twice). Background jobs share one frozen empty list until a client joins: no
   * allocation per job on the pipelined-submit path.
   */
  clients: readonly Peer[] = kNoClients;
  worker: Peer | null = null;
  /** What few jobs need (see JobExtra), made on the first write of a non-default value. */
  #extra: JobExtra | null = null;
  /** Link in a priority queue (intrusive list: no per-job node allocation). */
  next: ServerJob | null = null;

  /**
   * A job made from `submit` (read now, not kept). `uniqueKey` is its key in the
   * function's unique index (unique.ts), or null. Made by JobLifecycle.create only.
   */
  constructor(id: number, handles: JobHandles, submit: SubmitRecord, uniqueKey: string | null) {
    this.id = id;
    this.#handles = handles;
    this.fn = submit.fn;
    // A plain unique's key is its latin1 string: the job keeps that one string for both.
    this.unique = uniqueKey !== null && !isPayloadKey(uniqueKey) ? uniqueKey : latin1(submit.unique);
    this.uniqueKey = uniqueKey;
    this.#bytes = submit.bytes;
    this.#dataStart = submit.dataStart;
    this.#dataEnd = submit.dataEnd;
    this.reducer = submit.reducer;
    this.when = submit.when;
    this.#flags = submit.priority | kStateBits.queued | (submit.background ? kBackground : 0);
  }

  /**
   * `<prefix>:<id>`, a latin1 string of the handle's bytes, made when asked: a queued job
   * keeps only its number, and the string of a frame dies young.
   */
  get handle(): string {
    return this.#handles.format(this.id);
  }

  get priority(): JobPriority {
    return (this.#flags & kPriorityMask) as JobPriority;
  }

  /** Where the job is (see JobState). */
  get state(): JobState {
    return kStates[(this.#flags & kStateMask) >> kStateShift] as JobState;
  }
  set state(value: JobState) {
    this.#flags = (this.#flags & ~kStateMask) | kStateBits[value];
  }

  /** Submitted in the background at least once: it runs whether or not clients wait. */
  get background(): boolean {
    return (this.#flags & kBackground) !== 0;
  }
  set background(value: boolean) {
    this.#flags = value ? this.#flags | kBackground : this.#flags & ~kBackground;
  }

  /** gearmand's ignore_job: every client left, or an admin cancelled it; dropped when reached. */
  get ignore(): boolean {
    return (this.#flags & kIgnore) !== 0;
  }
  set ignore(value: boolean) {
    this.#flags = value ? this.#flags | kIgnore : this.#flags & ~kIgnore;
  }

  /** gearmand's job_queued: the job is (or, for the in-memory store, counts as) persisted. */
  get queuedFlag(): boolean {
    return (this.#flags & kQueued) !== 0;
  }
  set queuedFlag(value: boolean) {
    this.#flags = value ? this.#flags | kQueued : this.#flags & ~kQueued;
  }

  #more(): JobExtra {
    this.#extra ??= new JobExtra();
    return this.#extra;
  }

  /** Times the job went back to its queue because its worker left or timed out. */
  get retries(): number {
    return this.#extra?.retries ?? 0;
  }
  set retries(value: number) {
    if (value !== 0 || this.#extra !== null) this.#more().retries = value;
  }

  /** The store's key once the job was added to a durable store. */
  get storeKey(): StoreKey | undefined {
    return this.#extra?.storeKey;
  }
  set storeKey(value: StoreKey | undefined) {
    if (value !== undefined || this.#extra !== null) this.#more().storeKey = value;
  }

  /**
   * Submitters waiting for the job's store write, or null when none is pending. Their
   * JOB_CREATED (or ERROR) goes out when the batch commits.
   */
  get pendingReplies(): ReplySlot[] | null {
    return this.#extra?.pendingReplies ?? null;
  }
  set pendingReplies(value: ReplySlot[] | null) {
    if (value !== null || this.#extra !== null) this.#more().pendingReplies = value;
  }

  /** WORK_STATUS numerator, for GET_STATUS. */
  get numerator(): number {
    return this.#extra?.numerator ?? 0;
  }
  set numerator(value: number) {
    if (value !== 0 || this.#extra !== null) this.#more().numerator = value;
  }

  get denominator(): number {
    return this.#extra?.denominator ?? 0;
  }
  set denominator(value: number) {
    if (value !== 0 || this.#extra !== null) this.#more().denominator = value;
  }

  /** CAN_DO_TIMEOUT timer while running, if the worker registered one. */
  get timer(): NodeJS.Timeout | null {
    return this.#extra?.timer ?? null;
  }
  set timer(value: NodeJS.Timeout | null) {
    if (value !== null || this.#extra !== null) this.#more().timer = value;
  }

  /** The payload (a view made when asked: when the job is assigned or stored). */
  get data(): Buffer {
    const bytes = this.#bytes;
    if (this.#dataStart === 0 && this.#dataEnd === bytes.length) return bytes;
    return bytes.subarray(this.#dataStart, this.#dataEnd);
  }

  /** True when the payload holds exactly `bytes[start, end)`. */
  dataEquals(bytes: Buffer, start: number, end: number): boolean {
    return this.#bytes.compare(bytes, start, end, this.#dataStart, this.#dataEnd) === 0;
  }

  /** The handle's length in bytes. */
  get handleLength(): number {
    return this.#handles.byteLength(this.id);
  }

  /** Writes the handle's bytes at `at`; returns where they end. */
  writeHandle(target: Buffer, at: number): number {
    return this.#handles.write(this.id, target, at);
  }

  addClient(peer: Peer): void {
    if (this.clients === kNoClients) this.clients = [peer];
    else (this.clients as Peer[]).push(peer);
    peer.waiting.add(this);
  }

  /** Forgets every client (the job ended or was cancelled). */
  dropClients(): void {
    for (const client of this.clients) client.waiting.delete(this);
    this.clients = kNoClients;
  }

  /** Forgets one client that went away; true when no client is left. */
  removeClient(peer: Peer): boolean {
    this.clients = this.clients.filter((client) => client !== peer);
    return this.clients.length === 0;
  }
}
