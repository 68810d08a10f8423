/**
 * CPU-heavy jobs: 200 foreground jobs of about 20 ms of computation (calibrated once on
 * this machine for Node and for PHP), queued first, then run by one `gworker start` with
 * concurrency 2 (two handler threads) or by two PHP worker processes. The wall time is
 * compared with the ideal: the work of one job, measured alone right before the run,
 * times the jobs, over 2 cores. Two workloads: pure language computation (an integer
 * mixing loop: the goal) and chained sha256 rounds in the runtime's native crypto
 * (OpenSSL), where threads of one process share more than two processes do.
 */
import { fileURLToPath } from 'node:url';
import { ForegroundBatch } from './foreground-batch.js';
import { startGearmand } from './gearmand.js';
import { type Peer, phpPeer } from './processes.js';
import { collectHarnessGarbage, median, withTimeout } from './stats.js';
import {
  controlCounts,
  type SupervisorChild,
  scratchDir,
  startSupervisor,
  writeManifest,
} from './supervisor-process.js';
import { finishSectionRows, type Section } from './supervisor-report.js';
import { StatusPoller, totalCpuUs, withChildren } from './supervisor-watch.js';
import type { LibraryBenchOptions } from './types.js';

/** What the jobs compute. */
export interface CpuWorkload {
  /** The section's key and the PHP peer's LOOP argument. */
  readonly key: 'mix' | 'sha';
  /** The Node handler module: its default export runs a job, `loop` names the bare loop. */
  readonly handler: string;
  readonly loop: string;
  /** For titles and notes: what one job does, in Node and in PHP. */
  readonly what: string;
  readonly nodeOp: string;
  readonly phpOp: string;
}

export const kCpuWorkloads: Record<CpuWorkload['key'], CpuWorkload> = {
  mix: {
    key: 'mix',
    handler: fileURLToPath(new URL('../fixtures/mix-handler.mjs', import.meta.url)),
    loop: 'mixLoop',
    what: 'pure computation (an integer mixing loop)',
    nodeOp: 'integer mixing steps in JavaScript (bench/fixtures/mix-handler.mjs)',
    phpOp: 'the same steps in PHP (bench/peers/cpu.php mix)',
  },
  sha: {
    key: 'sha',
    handler: fileURLToPath(new URL('../fixtures/sha-handler.mjs', import.meta.url)),
    loop: 'shaLoop',
    what: 'chained sha256 in native crypto',
    nodeOp: "chained crypto.hash('sha256') rounds (bench/fixtures/sha-handler.mjs)",
    phpOp: "hash('sha256') rounds (bench/peers/cpu.php sha)",
  },
};

const kTargetMs = 20;
const kJobs = 200;
const kCores = 2;

interface Calibration {
  readonly rounds: number;
  readonly jobMs: number;
}

type Loop = (rounds: number) => unknown;

async function loopOf(workload: CpuWorkload): Promise<Loop> {
  const mod = (await import(workload.handler)) as Record<string, Loop>;
  return mod[workload.loop] as Loop;
}

/**
 * One job's work in this process: the median CPU time (user + system) of `samples` single
 * jobs, in ms. CPU time rather than wall time, so that other processes taking a core now
 * and then do not inflate it: the loop is pure computation on one thread.
 */
function nodeJobMs(loop: Loop, rounds: number, samples: number): number {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.cpuUsage();
    loop(rounds);
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  return median(times);
}

/** The rounds that take about 20 ms in Node here (scaled from a guess, three times). */
export async function calibrateNode(workload: CpuWorkload): Promise<Calibration> {
  const loop = await loopOf(workload);
  // Warm up first: the first calls run unoptimised and would scale the guess down.
  nodeJobMs(loop, 5000, 5);
  let rounds = 5000;
  for (let pass = 0; pass < 3; pass++)
    rounds = Math.max(1, Math.round((rounds * kTargetMs) / nodeJobMs(loop, rounds, 3)));
  return { rounds, jobMs: nodeJobMs(loop, rounds, 9) };
}

async function phpResult<T>(workload: CpuWorkload, args: string[]): Promise<T> {
  const peer = phpPeer('PHP cpu calibration', 'cpu.php', [workload.key, ...args]);
  try {
    return await peer.waitForJson<T>('result', 60_000);
  } finally {
    await peer.stop(1000);
  }
}

export interface CpuRun {
  readonly wallMs: number;
  /** The ideal for this run: one job's time (measured just before) x jobs / cores. */
  readonly idealMs: number;
  /** CPU time of the worker process(es), all threads, per job, over the timed part. */
  readonly cpuMsPerJob: number;
}

/**
 * Polls until a job runs (the start), then waits, without polling, for the last of the
 * batch's results (the end): the wall time in ms, and the CPU time the worker processes
 * spent meanwhile, per job.
 */
async function timeDrain(
  poller: StatusPoller,
  batch: ForegroundBatch,
  fn: string,
  pids: readonly number[],
  timeoutMs: number,
): Promise<{ wallMs: number; cpuMsPerJob: number }> {
  const start = await poller.until(fn, (c) => c.running > 0 || c.total < kJobs, timeoutMs, 'the first job');
  const cpu = totalCpuUs(pids);
  const endNs = await batch.finished(timeoutMs);
  const cpuMsPerJob = (totalCpuUs(pids) - cpu) / 1000 / kJobs;
  return { wallMs: Number(endNs - start.ns) / 1e6, cpuMsPerJob };
}

/**
 * The manifest's `prefetch` for the second gworker row: one job held ready per thread,
 * so a thread starts its next job without waiting for a round trip to gearmand.
 */
export const kCpuPrefetch = 1;

export async function supervisorRun(
  workload: CpuWorkload,
  run: number,
  calibration: Calibration,
  options: LibraryBenchOptions,
  prefetch: number,
  isolation: 'thread' | 'process' = 'thread',
): Promise<CpuRun> {
  const jobMs = nodeJobMs(await loopOf(workload), calibration.rounds, 7);
  const gearmand = await startGearmand();
  const poller = new StatusPoller(gearmand.port);
  const scratch = scratchDir('cpu');
  const fn = `sv_cpu_${workload.key}_${run}_p${prefetch}_${isolation}`;
  let supervisor: SupervisorChild | null = null;
  let batch: ForegroundBatch | null = null;
  try {
    batch = await ForegroundBatch.queue(gearmand.port, fn, kJobs, String(calibration.rounds));
    const { file: manifest, controlPort } = await writeManifest(scratch.path, {
      gearmandPort: gearmand.port,
      connections: 1,
      functions: [
        {
          name: fn,
          handler: workload.handler,
          concurrency: kCores,
          jobsPerThread: 1,
          ...(prefetch > 0 ? { prefetch } : {}),
          ...(isolation === 'process' ? { isolation } : {}),
          payload: 'text',
        },
      ],
    });
    collectHarnessGarbage();
    supervisor = await startSupervisor(manifest, {
      label: `gworker start (cpu, prefetch ${prefetch}, ${isolation}s)`,
      profileDir: options.profileDir,
      watch: false,
    });
    const { wallMs, cpuMsPerJob } = await timeDrain(
      poller,
      batch,
      fn,
      withChildren(supervisor.pid),
      options.runTimeoutMs,
    );
    const counts = (await controlCounts(controlPort)).get(fn);
    if (counts?.done !== kJobs)
      throw new Error(`gworker start completed ${counts?.done ?? 0} of ${kJobs} CPU jobs`);
    return { wallMs, idealMs: (jobMs * kJobs) / kCores, cpuMsPerJob };
  } finally {
    await supervisor?.stop();
    await batch?.close();
    await poller.close();
    await gearmand.stop();
    scratch.remove();
  }
}

async function phpRun(
  workload: CpuWorkload,
  run: number,
  calibration: Calibration,
  options: LibraryBenchOptions,
): Promise<CpuRun> {
  const { jobMs } = await phpResult<{ jobMs: number }>(workload, [
    'measure',
    String(calibration.rounds),
    '7',
  ]);
  const gearmand = await startGearmand();
  const poller = new StatusPoller(gearmand.port);
  const fn = `php_cpu_${workload.key}_${run}`;
  let workers: Peer[] = [];
  let batch: ForegroundBatch | null = null;
  try {
    batch = await ForegroundBatch.queue(gearmand.port, fn, kJobs, String(calibration.rounds));
    collectHarnessGarbage();
    workers = Array.from({ length: kCores }, (_, i) =>
      phpPeer(`PHP cpu worker ${i + 1}`, 'cpu.php', [workload.key, 'worker', String(gearmand.port), fn]),
    );
    const pids = workers.map((w) => w.child.pid ?? -1);
    const { wallMs, cpuMsPerJob } = await timeDrain(poller, batch, fn, pids, options.runTimeoutMs);
    for (const worker of workers) worker.send('stop');
    const done = await Promise.all(workers.map((w) => w.waitForJson<{ jobs: number }>('done', 10_000)));
    const jobs = done.reduce((sum, d) => sum + d.jobs, 0);
    if (jobs !== kJobs) throw new Error(`the PHP workers ran ${jobs} of ${kJobs} CPU jobs`);
    return { wallMs, idealMs: (jobMs * kJobs) / kCores, cpuMsPerJob };
  } finally {
    await Promise.all(workers.map((w) => w.stop(1000)));
    await batch?.close();
    await poller.close();
    await gearmand.stop();
  }
}

/** The CPU-heavy section, and the calibration it used. */
export async function supervisorCpuSection(
  workload: CpuWorkload,
  options: LibraryBenchOptions,
): Promise<{ section: Section; node: Calibration; php: Calibration }> {
  const node = await calibrateNode(workload);
  const php = await phpResult<Calibration>(workload, ['calibrate', String(kTargetMs)]);
  options.progress(
    `sv-cpu   ${workload.key}: calibrated Node ${node.rounds} rounds = ${node.jobMs.toFixed(1)} ms, PHP ${php.rounds} = ${php.jobMs.toFixed(1)} ms`,
  );
  const ours: CpuRun[] = [];
  const oursAhead: CpuRun[] = [];
  const oursInProcesses: CpuRun[] = [];
  const theirs: CpuRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const a = await withTimeout(
      supervisorRun(workload, run, node, options, 0),
      options.runTimeoutMs + 60_000,
      'cpu run',
    );
    ours.push(a);
    const ahead = await withTimeout(
      supervisorRun(workload, run, node, options, kCpuPrefetch),
      options.runTimeoutMs + 60_000,
      'cpu run with prefetch',
    );
    oursAhead.push(ahead);
    const inProcesses = await withTimeout(
      supervisorRun(workload, run, node, options, 0, 'process'),
      options.runTimeoutMs + 60_000,
      'cpu run with isolation: process',
    );
    oursInProcesses.push(inProcesses);
    const b = await withTimeout(
      phpRun(workload, run, php, options),
      options.runTimeoutMs + 60_000,
      'php cpu run',
    );
    theirs.push(b);
    options.progress(
      `sv-cpu   ${workload.key} run ${run}/${options.runs}  gworker start ${Math.round(a.wallMs)} ms (ideal ${Math.round(a.idealMs)}), with prefetch ${Math.round(ahead.wallMs)} ms (ideal ${Math.round(ahead.idealMs)}), in processes ${Math.round(inProcesses.wallMs)} ms (ideal ${Math.round(inProcesses.idealMs)}), PHP x2 ${Math.round(b.wallMs)} ms (ideal ${Math.round(b.idealMs)})`,
    );
  }
  // Per run: ideal/wall, CPU per job, and the share of the 2 cores the workers got (below
  // 100%: they waited for a core that other processes had, or for their next job).
  const workerMetrics = (runs: CpuRun[]) => ({
    efficiency: runs.map((r) => (100 * r.idealMs) / r.wallMs),
    cpuMs: runs.map((r) => r.cpuMsPerJob),
    share: runs.map((r) => (100 * r.cpuMsPerJob * kJobs) / (r.wallMs * kCores)),
  });
  const oneJob = (runs: CpuRun[]) => runs.map((r) => (r.idealMs * kCores) / kJobs);
  const rows = finishSectionRows(
    [
      {
        peer: 'ideal-node',
        label: `ideal for Node: ${kJobs} x one job alone / ${kCores} cores`,
        side: 'ideal',
        versus: null,
        values: ours.map((r) => r.idealMs),
        metrics: { jobMs: oneJob(ours) },
      },
      {
        peer: 'supervisor',
        label: `gworker start, concurrency ${kCores} (2 handler threads)`,
        side: 'ours',
        versus: 'ideal-node',
        values: ours.map((r) => r.wallMs),
        metrics: workerMetrics(ours),
      },
      {
        peer: 'supervisor-prefetch',
        label: `the same with prefetch: ${kCpuPrefetch} (a job ready per thread)`,
        side: 'ours',
        versus: 'ideal-node',
        values: oursAhead.map((r) => r.wallMs),
        metrics: workerMetrics(oursAhead),
      },
      {
        peer: 'supervisor-process',
        label: `gworker start, concurrency ${kCores}, isolation: process (2 handler processes)`,
        side: 'ours',
        versus: 'ideal-node',
        values: oursInProcesses.map((r) => r.wallMs),
        metrics: workerMetrics(oursInProcesses),
      },
      {
        peer: 'ideal-php',
        label: `ideal for PHP: ${kJobs} x one job alone / ${kCores} cores`,
        side: 'ideal',
        versus: null,
        values: theirs.map((r) => r.idealMs),
        metrics: { jobMs: oneJob(theirs) },
      },
      {
        peer: 'php-2',
        label: `PHP pecl worker, ${kCores} processes`,
        side: 'php',
        versus: 'ideal-php',
        values: theirs.map((r) => r.wallMs),
        metrics: workerMetrics(theirs),
      },
    ],
    false,
  );
  return {
    node,
    php,
    section: {
      key: workload.key === 'mix' ? 'cpu' : `cpu-${workload.key}`,
      title: `CPU-heavy: ${kJobs} jobs of ~${kTargetMs} ms of ${workload.what} each, queued first, ${kCores} at a time on ${kCores} cores: wall time`,
      unit: 'ms',
      higherIsBetter: false,
      columns: [
        { key: 'efficiency', header: 'ideal/wall %', digits: 1 },
        { key: 'jobMs', header: 'one job alone, CPU ms', digits: 1 },
        { key: 'cpuMs', header: 'CPU ms/job in the run', digits: 1 },
        { key: 'share', header: 'CPU/(wall x 2) %', digits: 1 },
      ],
      rows,
      notes: [
        `one job: Node ${node.rounds.toLocaleString('en-US')} ${workload.nodeOp}, PHP ${php.rounds.toLocaleString('en-US')} ${workload.phpOp}, each calibrated once to ~${kTargetMs} ms here;`,
        'ideal per run: one job alone (median CPU time of 7, measured just before the run, so other load does not inflate it) x jobs / cores;',
        'wall: from the `status` reply showing the first job running (polled every 2 ms until then) to the last result reaching the client that queued the jobs (foreground; no polling while they run); ratio = wall / ideal;',
        'CPU ms/job: user + system CPU of the worker process(es), all threads (/proc); CPU/(wall x 2): the share of both cores they got;',
        `prefetch: ${kCpuPrefetch} lets each handler thread hold the next job while it runs one (docs/manifest.md: such a job may wait here while another box is idle); without it a thread waits for its result to reach gearmand and the next job to come back`,
      ],
    },
  };
}
