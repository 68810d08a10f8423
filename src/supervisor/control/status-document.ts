import type { ServerAddress } from '../../net/address.js';
import type { BoxSnapshot } from '../capacity/box-control.js';
import { type CgroupLimits, readCgroupLimits } from '../cgroup-limits.js';
import type { FunctionSnapshot, Supervisor } from '../supervisor.js';
import { manifestId } from './manifest-id.js';
import type { ProbeResult, QueueDepth } from './queue-probe.js';

/** A function as `GET /api/status` reports it. */
export interface FunctionReport extends Omit<FunctionSnapshot, 'connections'> {
  /**
   * Jobs of this function waiting on the job servers, summed over those that answered;
   * null when none answered or queues were not asked for.
   */
  readonly queued: number | null;
}

/** One function's connections to one job server, and that server's queue for it. */
export interface ServerFunctionReport {
  readonly function: string;
  /** Connections configured for the function on this server. */
  readonly connections: number;
  /** Some of them are up. */
  readonly connected: boolean;
  /** How many of them are up now. */
  readonly up: number;
  readonly reconnects: number;
  readonly lastError: string | null;
  readonly queue: QueueDepth | null;
}

export interface ServerReport {
  readonly server: string;
  /** Why the admin query failed; null when it answered or was not asked. */
  readonly adminError: string | null;
  readonly functions: readonly ServerFunctionReport[];
}

/** The document `GET /api/status` answers, `gworker status --json` prints and the dashboard draws. */
export interface StatusDocument {
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeMs: number;
  /** The absolute path of the manifest it runs. */
  readonly manifest: string;
  /** manifestId() of that file: the CLI checks it before it acts on `-c FILE`. */
  readonly manifestId: string;
  /** A drain was asked for: no new jobs are taken, and the supervisor exits once running ones end. */
  readonly draining: boolean;
  readonly functions: readonly FunctionReport[];
  readonly servers: readonly ServerReport[];
  /**
   * The cgroup v2 limits the supervisor runs under, read now (they can change live);
   * null when it is in no cgroup v2 hierarchy.
   */
  readonly cgroup: CgroupLimits | null;
  /** The box's budget (`box:`): slots used and total, CPU slots, memory. */
  readonly box: BoxSnapshot;
}

/** Every job server the supervisor's functions connect to, with what is needed to reach it. */
export function serverAddresses(supervisor: Supervisor): Map<string, ServerAddress> {
  const configured = new Map((supervisor.manifest.servers ?? []).map((s) => [`${s.host}:${s.port}`, s]));
  const out = new Map<string, ServerAddress>();
  for (const fn of supervisor.functions()) {
    for (const { server } of fn.connections) {
      if (out.has(server)) continue;
      const config = configured.get(server);
      if (config !== undefined) {
        out.set(server, config.tls ? { host: config.host, port: config.port, tls: config.tls } : config);
      } else {
        // The embedded server, which the manifest does not name.
        const colon = server.lastIndexOf(':');
        out.set(server, { host: server.slice(0, colon), port: Number(server.slice(colon + 1)) });
      }
    }
  }
  return out;
}

/** Jobs of a function waiting on the servers it connects to that answered; null when none did. */
export function queuedJobs(
  fn: Pick<FunctionSnapshot, 'name' | 'connections'>,
  queues: ReadonlyMap<string, ProbeResult>,
): number | null {
  let queued: number | null = null;
  for (const c of fn.connections) {
    const probe = queues.get(c.server);
    if (probe?.ok) queued = (queued ?? 0) + (probe.rows.get(fn.name)?.queued ?? 0);
  }
  return queued;
}

export function buildStatus(
  supervisor: Supervisor,
  meta: { readonly startedAt: Date; readonly draining: boolean },
  queues: ReadonlyMap<string, ProbeResult> | null,
): StatusDocument {
  const snapshots = supervisor.functions();
  const servers = new Map<string, ServerFunctionReport[]>();
  const functions = snapshots.map(({ connections, ...fn }): FunctionReport => {
    let queued: number | null = null;
    for (const c of connections) {
      const probe = queues?.get(c.server);
      const queue = probe?.ok ? (probe.rows.get(fn.name) ?? { queued: 0, running: 0, workers: 0 }) : null;
      if (queue !== null) queued = (queued ?? 0) + queue.queued;
      const rows = servers.get(c.server) ?? [];
      rows.push({
        function: fn.name,
        connections: c.connections,
        connected: c.connected,
        up: c.up,
        reconnects: c.reconnects,
        lastError: c.lastError,
        queue,
      });
      servers.set(c.server, rows);
    }
    return { ...fn, queued };
  });
  return {
    pid: process.pid,
    startedAt: meta.startedAt.toISOString(),
    uptimeMs: Date.now() - meta.startedAt.getTime(),
    manifest: supervisor.manifest.file,
    manifestId: manifestId(supervisor.manifest.file),
    draining: meta.draining,
    functions,
    servers: [...servers].map(([server, rows]) => {
      const probe = queues?.get(server);
      return { server, adminError: probe && !probe.ok ? probe.error : null, functions: rows };
    }),
    cgroup: readCgroupLimits(),
    box: supervisor.boxStatus(),
  };
}
