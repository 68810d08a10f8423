/**
 * The server bench's cases: the same clients and workers (the bench's existing peers)
 * against whichever server is under test. Each case runs once against a fresh server and
 * returns its rate; the caller interleaves servers and runs.
 */
import type { WorkerDone } from './drain.js';
import { nodePeer, type Peer, phpPeer } from './processes.js';
import { QueueWatch, queueJobs } from './queue.js';
import type { BenchServer } from './server-targets.js';
import { processCpuUs } from './supervisor-watch.js';
import type { LibraryBenchOptions } from './types.js';

export type CaseName = 'submit-ours' | 'submit-php' | 'drain-php4' | 'roundtrip-php';

export interface CaseRun {
  /** Jobs (or calls) per second. */
  readonly rate: number;
  /**
   * CPU time (user + system, all threads) of the server per job or call, over the
   * warm-up and the timed part (submits; drained jobs; calls), from /proc.
   */
  readonly serverCpuUs: number;
  /** Mean latency per call in microseconds (round trips only). */
  readonly meanUs?: number;
  readonly p99Us?: number;
}

export interface CaseSize {
  /** Timed jobs (submits, drain) or calls (round trip). */
  readonly count: number;
  readonly warmup: number;
}

const kPayload = 'server-payload16';

async function submitCase(
  server: BenchServer,
  run: number,
  size: CaseSize,
  php: boolean,
  options: LibraryBenchOptions,
): Promise<CaseRun> {
  const watch = new QueueWatch(server.port);
  const warmFn = `srv_submit_warm_${run}`;
  const mainFn = `srv_submit_${run}`;
  const args = [String(server.port), warmFn, mainFn, String(size.count), String(size.warmup)];
  const cpu = processCpuUs(server.pid);
  const client: Peer = php
    ? phpPeer('PHP client (batch)', 'submit.php', [...args, 'batch', kPayload])
    : nodePeer('gworker client', 'submit-peer.ts', [...args, '0', kPayload], {
        profileDir: options.profileDir,
      });
  try {
    const result = await client.waitForJson<{ ns: number; count: number }>('result', options.runTimeoutMs);
    const serverCpuUs = (processCpuUs(server.pid) - cpu) / (size.count + size.warmup);
    const queued = await watch.total(mainFn);
    if (queued !== size.count)
      throw new Error(`${server.kind} holds ${queued} jobs after the submits, expected ${size.count}`);
    return { rate: (result.count * 1e9) / result.ns, serverCpuUs };
  } finally {
    await client.stop(2000);
    await watch.close();
  }
}

/** 4 PHP workers drain jobs queued first; timed from the first registration to `status` showing none. */
async function drainCase(
  server: BenchServer,
  run: number,
  size: CaseSize,
  options: LibraryBenchOptions,
): Promise<CaseRun> {
  const watch = new QueueWatch(server.port);
  const warmFn = `srv_drain_warm_${run}`;
  const mainFn = `srv_drain_${run}`;
  let workers: Peer[] = [];
  try {
    await queueJobs(
      server.port,
      [
        { fn: warmFn, count: size.warmup },
        { fn: mainFn, count: size.count },
      ],
      kPayload,
    );
    const queued = await watch.total(mainFn);
    if (queued !== size.count) throw new Error(`${server.kind} holds ${queued} jobs, expected ${size.count}`);
    const cpu = processCpuUs(server.pid);
    workers = Array.from({ length: 4 }, (_, i) =>
      phpPeer(`PHP worker ${i + 1}/4`, 'worker.php', [String(server.port), warmFn, mainFn]),
    );
    await Promise.all(workers.map((worker) => worker.waitForLine('ready', 30_000)));
    await watch.waitEmpty(warmFn, options.runTimeoutMs);
    for (const worker of workers) worker.send('go');
    const goLines = await Promise.all(workers.map((worker) => worker.waitForLine('go ', 10_000)));
    let start = BigInt((goLines[0] as string).slice(3));
    for (const line of goLines) if (BigInt(line.slice(3)) < start) start = BigInt(line.slice(3));
    const end = await watch.waitEmpty(mainFn, options.runTimeoutMs);
    const serverCpuUs = (processCpuUs(server.pid) - cpu) / (size.count + size.warmup);
    for (const worker of workers) worker.send('stop');
    const done = await Promise.all(workers.map((worker) => worker.waitForJson<WorkerDone>('done', 10_000)));
    const handled = done.reduce((sum, counts) => sum + counts.main, 0);
    if (handled !== size.count) throw new Error(`the PHP workers handled ${handled} of ${size.count} jobs`);
    return { rate: (size.count * 1e9) / Number(end - start), serverCpuUs };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(1000)));
    await watch.close();
  }
}

/** Sequential foreground calls: PHP client (doNormal) + PHP worker. */
async function roundTripCase(
  server: BenchServer,
  run: number,
  size: CaseSize,
  options: LibraryBenchOptions,
): Promise<CaseRun> {
  const warmFn = `srv_rt_warm_${run}`;
  const mainFn = `srv_rt_${run}`;
  const peers: Peer[] = [];
  try {
    const worker = phpPeer('PHP worker', 'worker.php', [String(server.port), warmFn, mainFn]);
    peers.push(worker);
    await worker.waitForLine('ready', 30_000);
    worker.send('go');
    await worker.waitForLine('go ', 10_000);
    const cpu = processCpuUs(server.pid);
    const client = phpPeer('PHP client', 'roundtrip.php', [
      String(server.port),
      warmFn,
      mainFn,
      String(size.count),
      String(size.warmup),
      kPayload,
    ]);
    peers.push(client);
    const result = await client.waitForJson<{ ns: number; count: number; meanUs: number; p99Us: number }>(
      'result',
      options.runTimeoutMs,
    );
    const serverCpuUs = (processCpuUs(server.pid) - cpu) / (size.count + size.warmup);
    worker.send('stop');
    const done = await worker.waitForJson<WorkerDone>('done', 10_000);
    if (done.main !== size.count) throw new Error(`the PHP worker ran ${done.main} of ${size.count} calls`);
    return {
      rate: (result.count * 1e9) / result.ns,
      serverCpuUs,
      meanUs: result.meanUs,
      p99Us: result.p99Us,
    };
  } finally {
    for (const peer of peers.reverse()) await peer.stop(1000);
  }
}

export function runCase(
  name: CaseName,
  server: BenchServer,
  run: number,
  size: CaseSize,
  options: LibraryBenchOptions,
): Promise<CaseRun> {
  switch (name) {
    case 'submit-ours':
      return submitCase(server, run, size, false, options);
    case 'submit-php':
      return submitCase(server, run, size, true, options);
    case 'drain-php4':
      return drainCase(server, run, size, options);
    case 'roundtrip-php':
      return roundTripCase(server, run, size, options);
  }
}
