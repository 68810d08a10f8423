import { AdminClient } from '../../client/admin-client.js';
import type { ServerAddress } from '../../net/address.js';
import type { FunctionStatus } from '../../protocol/admin-replies.js';

/** Jobs of one function on one job server, from its admin `status`. */
export interface QueueDepth {
  /** Waiting for a worker (the server's total less its running jobs). */
  readonly queued: number;
  readonly running: number;
  /** Connections, on any box, that registered the function. */
  readonly workers: number;
}

export type ProbeResult =
  | { readonly ok: true; readonly rows: ReadonlyMap<string, QueueDepth> }
  | { readonly ok: false; readonly error: string };

/** One server's answer to an admin command, or why there is none. */
export type AdminAnswer<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/**
 * Asks job servers for their queue depths over the text admin protocol. The supervisor
 * asks, not the CLI: it already knows every server's address and TLS settings and can
 * reach them, and the dashboard shows the same numbers. One AdminClient per server is
 * kept between requests; one that failed is dropped and dialled afresh next time.
 */
export class QueueProbe {
  readonly #timeoutMs: number;
  readonly #clients = new Map<string, AdminClient>();

  /** @param timeoutMs - longest wait for a server's answer (connect included). @defaultValue 2000 */
  constructor(timeoutMs = 2000) {
    this.#timeoutMs = timeoutMs;
  }

  /** Queue depths per server name; a server that does not answer in time gets its error. */
  async probe(servers: ReadonlyMap<string, ServerAddress>): Promise<Map<string, ProbeResult>> {
    const answers = await this.ask(servers, async (client) => depths(await client.status()));
    return new Map(
      [...answers].map(([name, answer]): [string, ProbeResult] =>
        answer.ok ? [name, { ok: true, rows: answer.value }] : [name, answer],
      ),
    );
  }

  /**
   * Runs one admin command on every server, over the connections kept here (so the
   * queue depths and the `workers` listing share one admin connection per server).
   * Connections to servers not named any more are closed.
   */
  async ask<T>(
    servers: ReadonlyMap<string, ServerAddress>,
    command: (client: AdminClient) => Promise<T>,
  ): Promise<Map<string, AdminAnswer<T>>> {
    for (const [name, client] of this.#clients) {
      if (!servers.has(name)) this.#drop(name, client);
    }
    const entries = await Promise.all(
      [...servers].map(async ([name, address]): Promise<[string, AdminAnswer<T>]> => {
        const client = this.#client(name, address);
        try {
          return [name, { ok: true, value: await command(client) }];
        } catch (err) {
          this.#drop(name, client);
          return [name, { ok: false, error: (err as Error).message }];
        }
      }),
    );
    return new Map(entries);
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(clients.map((client) => client.close()));
  }

  #client(name: string, address: ServerAddress): AdminClient {
    let client = this.#clients.get(name);
    if (client === undefined) {
      client = new AdminClient({
        server: address,
        connectTimeoutMs: this.#timeoutMs,
        commandTimeoutMs: this.#timeoutMs,
      });
      this.#clients.set(name, client);
    }
    return client;
  }

  #drop(name: string, client: AdminClient): void {
    if (this.#clients.get(name) === client) this.#clients.delete(name);
    client.close().catch(() => {});
  }
}

function depths(rows: readonly FunctionStatus[]): Map<string, QueueDepth> {
  return new Map(
    rows.map((row) => [
      row.function,
      { queued: Math.max(0, row.total - row.running), running: row.running, workers: row.availableWorkers },
    ]),
  );
}
