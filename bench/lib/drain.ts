import { startGearmand } from './gearmand.js';
import { nodePeer, type Peer, phpPeer } from './processes.js';
import { QueueWatch, queueJobs } from './queue.js';
import { finishRows, goal, type RowDraft } from './rows.js';
import { withTimeout } from './stats.js';
import type { BenchResult, LibraryBenchOptions, Row, WorkerSettings } from './types.js';

const kPayload = 'drain-payload-16';

/** The `done` line of a worker peer (bench/peers/worker.php, worker-peer.ts). */
export interface WorkerDone {
  readonly warm: number;
  readonly main: number;
  /** Jobs handled since `go`. */
  readonly jobs: number;
  /** CPU time (user + system) of the process since `go`. */
  readonly cpuUs: number;
}

interface DrainPeer {
  readonly peer: string;
  readonly label: string;
  readonly side: 'ours' | 'php';
  spawn(port: number, warmFn: string, mainFn: string, options: LibraryBenchOptions): Peer[];
}

function phpWorkers(processes: number): DrainPeer {
  return {
    peer: `php-${processes}`,
    label: `PHP pecl worker, ${processes} process${processes === 1 ? '' : 'es'}`,
    side: 'php',
    spawn: (port, warmFn, mainFn) =>
      Array.from({ length: processes }, (_, i) =>
        phpPeer(`PHP worker ${i + 1}/${processes}`, 'worker.php', [String(port), warmFn, mainFn]),
      ),
  };
}

function ourWorker({ maxJobs, connections }: WorkerSettings): DrainPeer {
  return {
    peer: `gworker-${maxJobs}x${connections}`,
    label: `gworker Worker, 1 process (maxJobs ${maxJobs}, connectionsPerServer ${connections})`,
    side: 'ours',
    spawn: (port, warmFn, mainFn, options) => [
      nodePeer(
        'gworker worker',
        'worker-peer.ts',
        [String(port), warmFn, mainFn, String(maxJobs), String(connections)],
        { profileDir: options.profileDir },
      ),
    ],
  };
}

/**
 * One timed drain: a fresh gearmand, `jobs` background jobs queued before any worker
 * runs, then the workers registered on `go`; the time runs from the first worker's
 * registration (its own monotonic clock reading, printed with `go`) to the `status`
 * reply that shows the function empty.
 */
interface DrainRun {
  readonly rate: number;
  /** CPU time (user + system) of all the worker processes per drained job. */
  readonly workerCpuUs: number;
}

async function drainOnce(peer: DrainPeer, run: number, options: LibraryBenchOptions): Promise<DrainRun> {
  const gearmand = await startGearmand();
  const watch = new QueueWatch(gearmand.port);
  const warmFn = `drain_warm_${run}`;
  const mainFn = `drain_${run}`;
  let workers: Peer[] = [];
  try {
    await queueJobs(
      gearmand.port,
      [
        { fn: warmFn, count: options.warmup ?? options.jobs },
        { fn: mainFn, count: options.jobs },
      ],
      kPayload,
    );
    const queued = await watch.total(mainFn);
    if (queued !== options.jobs) throw new Error(`queued ${queued} jobs, expected ${options.jobs}`);
    workers = peer.spawn(gearmand.port, warmFn, mainFn, options);
    await Promise.all(workers.map((worker) => worker.waitForLine('ready', 30_000)));
    await watch.waitEmpty(warmFn, options.runTimeoutMs);
    for (const worker of workers) worker.send('go');
    const goLines = await Promise.all(workers.map((worker) => worker.waitForLine('go ', 10_000)));
    // The earliest registration starts the clock (bigints: Math.min does not take them).
    let start = BigInt((goLines[0] as string).slice(3));
    for (const line of goLines) if (BigInt(line.slice(3)) < start) start = BigInt(line.slice(3));
    const end = await watch.waitEmpty(mainFn, options.runTimeoutMs);
    for (const worker of workers) worker.send('stop');
    const done = await Promise.all(workers.map((worker) => worker.waitForJson<WorkerDone>('done', 10_000)));
    const handled = done.reduce((sum, counts) => sum + counts.main, 0);
    if (handled !== options.jobs) throw new Error(`${peer.label} handled ${handled} of ${options.jobs} jobs`);
    const cpuUs = done.reduce((sum, counts) => sum + counts.cpuUs, 0);
    return { rate: (options.jobs * 1e9) / Number(end - start), workerCpuUs: cpuUs / options.jobs };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(1000)));
    await watch.close();
    await gearmand.stop();
  }
}

/** Drain bench: PHP workers (1 and 4 processes) against one Node process running our Worker. */
export async function runDrainBench(options: LibraryBenchOptions): Promise<BenchResult> {
  const warmup = (options.warmup ?? options.jobs).toLocaleString('en-US');
  const peers: DrainPeer[] = [phpWorkers(1), phpWorkers(4), ...options.drainSettings.map(ourWorker)];
  const runs = new Map<string, DrainRun[]>(peers.map((peer) => [peer.peer, []]));
  // Runs interleave the peers, so a burst of load from elsewhere hits all of them alike.
  for (let run = 1; run <= options.runs; run++) {
    for (const peer of peers) {
      const result = await withTimeout(
        drainOnce(peer, run, options),
        options.runTimeoutMs + 60_000,
        `drain run ${run} of ${peer.label}`,
      );
      runs.get(peer.peer)?.push(result);
      options.progress(
        `drain  run ${run}/${options.runs}  ${peer.label}: ${Math.round(result.rate)} jobs/s, ${result.workerCpuUs.toFixed(1)} us CPU/job`,
      );
    }
  }
  const drafts: RowDraft[] = peers.map((peer) => ({
    peer: peer.peer,
    label: peer.label,
    side: peer.side,
    versus: peer.peer === 'php-4' ? null : 'php-4',
    rates: (runs.get(peer.peer) ?? []).map((result) => result.rate),
    metrics: { workerCpuUs: (runs.get(peer.peer) ?? []).map((result) => result.workerCpuUs) },
  }));
  const rows = finishRows(drafts);
  const ours = rows.filter((row) => row.side === 'ours');
  const best = ours.reduce((a, b) => (b.medianRate > a.medianRate ? b : a), ours[0] as Row);
  return {
    name: 'drain',
    title: `Drain: ${options.jobs.toLocaleString('en-US')} tiny background jobs queued first, then drained`,
    unit: 'jobs/s',
    columns: [{ key: 'workerCpuUs', header: 'worker CPU us/job' }],
    rows,
    goals: [goal('drain: one gworker process >= 4 PHP worker processes', rows, best.peer, 'php-4')],
    notes: [
      `each run: fresh gearmand (default threads); the workers first drain ${warmup} warm-up jobs of another function, untimed;`,
      'timed from the first worker registering the function to the `status` reply showing it empty (polled every 2 ms);',
      'worker CPU us/job: user + system CPU time of all worker processes per job (gearmand not included)',
    ],
  };
}
