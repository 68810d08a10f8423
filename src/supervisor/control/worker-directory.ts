import type { ServerAddress } from '../../net/address.js';
import type { WorkerInfo } from '../../protocol/admin-replies.js';
import type { QueueProbe } from './queue-probe.js';

/** One connection, on some job server, that registered a function. */
export interface WorkerEntry {
  readonly server: string;
  /** The connection's file descriptor on that server (its id in `workers`). */
  readonly fd: number;
  /** The peer's address as the server sees it. */
  readonly address: string;
  /** What it set with SET_CLIENT_ID; `-` when it set none. */
  readonly clientId: string;
  /** One of this supervisor's own connections (its client id is this supervisor's). */
  readonly self: boolean;
}

export interface FunctionWorkers {
  /** The connections listed, this supervisor's first; at most `maxPerFunction` of them. */
  readonly workers: readonly WorkerEntry[];
  /** How many more registered the function than are listed (0 unless the list hit its bound). */
  readonly more: number;
}

/** What `GET /api/workers` answers. */
export interface WorkersReply {
  /** When the job servers were asked (the answer is reused for `cacheMs`). */
  readonly fetchedAt: string;
  readonly cacheMs: number;
  /** The client id this supervisor's connections carry, by which `self` is told. */
  readonly clientId: string;
  /** Every job server asked, with why it did not answer (null when it did). */
  readonly servers: readonly { readonly server: string; readonly error: string | null }[];
  /** Per function of this supervisor, who serves it on every server that answered. */
  readonly functions: Readonly<Record<string, FunctionWorkers>>;
}

export interface WorkerDirectoryOptions {
  /** How long one answer of the job servers is reused. @defaultValue 5000 */
  readonly cacheMs?: number;
  /** Most connections listed per function, over all servers. @defaultValue 50 */
  readonly maxPerFunction?: number;
  readonly now?: () => number;
}

export interface DirectoryQuery {
  readonly servers: ReadonlyMap<string, ServerAddress>;
  readonly functions: readonly string[];
  readonly clientId: string;
}

/**
 * Which workers serve each function, from admin `workers` on every job server. The
 * answer is cached for a few seconds and shared by concurrent requests, so however many
 * dashboards poll, each server is asked at most once per `cacheMs`; the list per
 * function is bounded, and says how many it left out.
 */
export class WorkerDirectory {
  readonly #probe: QueueProbe;
  readonly #cacheMs: number;
  readonly #max: number;
  readonly #now: () => number;
  #cached: { at: number; key: string; reply: Promise<WorkersReply> } | null = null;

  constructor(probe: QueueProbe, options: WorkerDirectoryOptions = {}) {
    this.#probe = probe;
    this.#cacheMs = options.cacheMs ?? 5000;
    this.#max = options.maxPerFunction ?? 50;
    this.#now = options.now ?? Date.now;
  }

  /** The cached answer while it is fresh and for the same servers and functions, else a new one. */
  lookup(query: DirectoryQuery): Promise<WorkersReply> {
    const key = JSON.stringify([[...query.servers.keys()], query.functions, query.clientId]);
    const now = this.#now();
    const cached = this.#cached;
    if (cached !== null && cached.key === key && now - cached.at < this.#cacheMs) return cached.reply;
    const reply = this.#fetch(query, now);
    this.#cached = { at: now, key, reply };
    return reply;
  }

  async #fetch(query: DirectoryQuery, now: number): Promise<WorkersReply> {
    const answers = await this.#probe.ask(query.servers, (client) => client.workers());
    const wanted = new Set(query.functions);
    const found = new Map<string, WorkerEntry[]>(query.functions.map((fn) => [fn, []]));
    for (const [server, answer] of answers) {
      if (!answer.ok) continue;
      for (const row of answer.value) addRow(found, wanted, server, row, query.clientId);
    }
    const functions: Record<string, FunctionWorkers> = {};
    for (const [fn, entries] of found) {
      // Own connections first, then by server and fd, so the list reads the same every poll.
      entries.sort((a, b) => Number(b.self) - Number(a.self) || compare(a.server, b.server) || a.fd - b.fd);
      functions[fn] = { workers: entries.slice(0, this.#max), more: Math.max(0, entries.length - this.#max) };
    }
    return {
      fetchedAt: new Date(now).toISOString(),
      cacheMs: this.#cacheMs,
      clientId: query.clientId,
      servers: [...answers].map(([server, answer]) => ({ server, error: answer.ok ? null : answer.error })),
      functions,
    };
  }
}

function addRow(
  found: Map<string, WorkerEntry[]>,
  wanted: ReadonlySet<string>,
  server: string,
  row: WorkerInfo,
  clientId: string,
): void {
  for (const fn of row.functions) {
    if (!wanted.has(fn)) continue;
    found.get(fn)?.push({
      server,
      fd: row.fd,
      address: row.ip,
      clientId: row.clientId,
      self: row.clientId === clientId,
    });
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
