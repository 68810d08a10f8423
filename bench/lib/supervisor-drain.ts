/**
 * Tiny jobs through gearmand: warm-up plus timed jobs of ONE function queued first, then
 * drained by four PHP worker processes, by one process running the library's bare
 * Worker, or by one `gworker start` (handlers in worker threads). The same clock for all:
 * from the `status` reply showing no more than the timed jobs left (the warm-up jobs are
 * done, whoever ran them) to the reply showing the function empty.
 */

import { fileURLToPath } from 'node:url';
import type { WorkerDone } from './drain.js';
import { startGearmand } from './gearmand.js';
import { nodePeer, type Peer, phpPeer } from './processes.js';
import { queueJobs } from './queue.js';
import { ratio, withTimeout } from './stats.js';
import {
  controlCounts,
  type SupervisorChild,
  scratchDir,
  startSupervisor,
  writeManifest,
} from './supervisor-process.js';
import { finishSectionRows, type Section, type SectionRow } from './supervisor-report.js';
import { StatusPoller, totalCpuUs, withChildren } from './supervisor-watch.js';
import { fmtRatio } from './table.js';
import type { LibraryBenchOptions } from './types.js';

const kPayload = 'drain-payload-16';
export const kEchoHandler = fileURLToPath(new URL('../fixtures/echo-handler.mjs', import.meta.url));

/** The supervisor's manifest settings for the tiny-job drain. */
export interface SupervisorDrainSettings {
  readonly concurrency: number;
  /** Omitted: not in the manifest (the default, 1). */
  readonly jobsPerThread?: number;
  readonly connections: number;
}

interface Run {
  readonly rate: number;
  /** CPU time (user + system, all threads) of the worker process(es) per timed job. */
  readonly cpuUsPerJob: number;
}

/** supervisor-process: the same manifest with isolation: process (one handler process). */
/** supervisor-thread: the same manifest with dispatch: thread (threads own their connections). */
export type PeerKind = 'php-4' | 'bare' | 'supervisor' | 'supervisor-process' | 'supervisor-thread';

/** Workers that report their counts on `stop` (PHP worker.php, bench/lib/worker-peer.ts). */
function linePeers(
  kind: Exclude<PeerKind, 'supervisor' | 'supervisor-process' | 'supervisor-thread'>,
  port: number,
  fn: string,
  s: SupervisorDrainSettings,
): Peer[] {
  // The peers' second function is never registered: no `go` is sent; all jobs are "warm" to them.
  const unused = `${fn}_unused`;
  if (kind === 'php-4')
    return Array.from({ length: 4 }, (_, i) =>
      phpPeer(`PHP worker ${i + 1}/4`, 'worker.php', [String(port), fn, unused]),
    );
  const perConnection = Math.max(1, Math.round(s.concurrency / s.connections));
  return [
    nodePeer('gworker bare Worker', 'worker-peer.ts', [
      String(port),
      fn,
      unused,
      String(perConnection),
      String(s.connections),
    ]),
  ];
}

export async function drainOnce(
  kind: PeerKind,
  run: number,
  settings: SupervisorDrainSettings,
  options: LibraryBenchOptions,
): Promise<Run> {
  const gearmand = await startGearmand();
  const poller = new StatusPoller(gearmand.port);
  const scratch = scratchDir('drain');
  const fn = `sv_drain_${run}`;
  const warm = options.warmup ?? options.jobs;
  const all = warm + options.jobs;
  let peers: Peer[] = [];
  let supervisor: SupervisorChild | null = null;
  try {
    await queueJobs(gearmand.port, [{ fn, count: all }], kPayload);
    const queued = await poller.count(fn);
    if (queued.total !== all) throw new Error(`queued ${queued.total} jobs, expected ${all}`);
    let pids: number[];
    let controlPort = 0;
    if (kind === 'supervisor' || kind === 'supervisor-process' || kind === 'supervisor-thread') {
      const written = await writeManifest(scratch.path, {
        gearmandPort: gearmand.port,
        connections: settings.connections,
        functions: [
          {
            name: fn,
            handler: kEchoHandler,
            concurrency: settings.concurrency,
            ...(settings.jobsPerThread === undefined ? {} : { jobsPerThread: settings.jobsPerThread }),
            ...(kind === 'supervisor-process' ? { isolation: 'process' as const } : {}),
            ...(kind === 'supervisor-thread' ? { dispatch: 'thread' as const } : {}),
          },
        ],
      });
      const manifest = written.file;
      controlPort = written.controlPort;
      supervisor = await startSupervisor(manifest, {
        label: 'gworker start',
        profileDir: options.profileDir,
        watch: false,
      });
      // Its handler processes, if any, are up once it has started: their CPU counts too.
      pids = withChildren(supervisor.pid);
    } else {
      peers = linePeers(kind, gearmand.port, fn, settings);
      pids = peers.map((peer) => peer.child.pid ?? -1);
    }
    const timeout = options.runTimeoutMs;
    const start = await poller.until(fn, (c) => c.total <= options.jobs, timeout, 'the warm-up drain');
    const cpuStart = totalCpuUs(pids);
    const end = await poller.until(fn, (c) => c.total === 0, timeout, 'the timed drain');
    const cpu = totalCpuUs(pids) - cpuStart;
    if (supervisor !== null) {
      let counts = (await controlCounts(controlPort)).get(fn);
      // dispatch: thread sends its counts in batches (every 250 ms): give the last one time to arrive.
      for (
        let wait = 0;
        kind === 'supervisor-thread' && wait < 20 && counts !== undefined && counts.done < all;
        wait++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        counts = (await controlCounts(controlPort)).get(fn);
      }
      if (counts === undefined) throw new Error('the control API does not list the function');
      if (counts.done !== all || counts.failed + counts.excepted > 0)
        throw new Error(
          `gworker start completed ${counts.done} of ${all} jobs (${counts.failed} failed, ${counts.excepted} exceptions)\n${supervisor.warnings.slice(-3).join('\n')}`,
        );
    } else {
      for (const peer of peers) peer.send('stop');
      const done = await Promise.all(peers.map((peer) => peer.waitForJson<WorkerDone>('done', 10_000)));
      const handled = done.reduce((sum, d) => sum + d.warm, 0);
      if (handled !== all) throw new Error(`${kind} handled ${handled} of ${all} jobs`);
    }
    return { rate: (start.total * 1e9) / Number(end.ns - start.ns), cpuUsPerJob: cpu / start.total };
  } finally {
    await supervisor?.stop();
    await Promise.all(peers.map((peer) => peer.stop(1000)));
    await poller.close();
    await gearmand.stop();
    scratch.remove();
  }
}

function rowOf(rows: readonly SectionRow[], peer: string): number {
  return rows.find((row) => row.peer === peer)?.median ?? Number.NaN;
}

/** The drain section: PHP x4 (reference), the supervisor, the bare Worker. */
export async function supervisorDrainSection(
  settings: SupervisorDrainSettings,
  options: LibraryBenchOptions,
): Promise<Section> {
  const kinds: PeerKind[] = ['php-4', 'supervisor', 'supervisor-process', 'bare'];
  const runs = new Map<PeerKind, Run[]>(kinds.map((kind) => [kind, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const kind of kinds) {
      const result = await withTimeout(
        drainOnce(kind, run, settings, options),
        options.runTimeoutMs * 2 + 60_000,
        `supervisor drain run ${run} (${kind})`,
      );
      runs.get(kind)?.push(result);
      options.progress(
        `sv-drain run ${run}/${options.runs}  ${kind}: ${Math.round(result.rate)} jobs/s, ${result.cpuUsPerJob.toFixed(1)} us CPU/job`,
      );
    }
  }
  const inFlight = `${settings.concurrency} in flight`;
  const perConnection = Math.max(1, Math.round(settings.concurrency / settings.connections));
  const labels: Record<PeerKind, string> = {
    'php-4': 'PHP pecl worker, 4 processes',
    supervisor: `gworker start, 1 process (concurrency ${settings.concurrency}, jobsPerThread ${settings.jobsPerThread ?? 1}, connections ${settings.connections})`,
    'supervisor-process': `the same with isolation: process (1 handler process, jobsPerProcess ${settings.jobsPerThread ?? 1})`,
    'supervisor-thread': 'the same with dispatch: thread (not run in this section)',
    bare: `bare Worker, 1 process, no threads (maxJobs ${perConnection} x ${settings.connections} connections = ${inFlight})`,
  };
  const rows: SectionRow[] = finishSectionRows(
    kinds.map((kind) => ({
      peer: kind,
      label: labels[kind],
      side: kind === 'php-4' ? 'php' : 'ours',
      versus: kind === 'php-4' ? null : 'php-4',
      values: (runs.get(kind) ?? []).map((r) => r.rate),
      metrics: { cpuUs: (runs.get(kind) ?? []).map((r) => r.cpuUsPerJob) },
    })),
    true,
  );
  const warm = (options.warmup ?? options.jobs).toLocaleString('en-US');
  return {
    key: 'drain',
    title: `Tiny jobs: ${options.jobs.toLocaleString('en-US')} background jobs queued first, drained through gearmand`,
    unit: 'jobs/s',
    higherIsBetter: true,
    columns: [{ key: 'cpuUs', header: 'worker CPU us/job', digits: 1 }],
    rows,
    notes: [
      `each run: fresh gearmand (default threads); ${warm} warm-up jobs of the same function queued ahead of the timed ones;`,
      'timed from the `status` reply showing only the timed jobs left to the one showing none (polled every 2 ms);',
      'supervisor: handler bench/fixtures/echo-handler.mjs returns its payload; counts checked through its control API;',
      `process hop: isolation: process / threads = ${fmtRatio(ratio(rowOf(rows, 'supervisor-process'), rowOf(rows, 'supervisor')))} (medians): batches over the IPC channel instead of a MessagePort; CPU includes the handler process;`,
      `thread hop: supervisor / bare Worker = ${fmtRatio(ratio(rowOf(rows, 'supervisor'), rowOf(rows, 'bare')))} (medians): the same grabs in flight, handlers in worker threads vs on the socket's thread;`,
      'worker CPU us/job: user + system CPU of the worker process(es), all threads, from /proc (10 ms ticks)',
    ],
  };
}
