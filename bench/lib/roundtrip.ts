import type { WorkerDone } from './drain.js';
import { startGearmand } from './gearmand.js';
import { nodePeer, type Peer, phpPeer } from './processes.js';
import { finishRows, goal, type RowDraft } from './rows.js';
import { withTimeout } from './stats.js';
import type { BenchResult, LibraryBenchOptions } from './types.js';

const kPayload = 'roundtrip-pay-16';

type Side = 'php' | 'gworker';

interface Pair {
  readonly peer: string;
  readonly label: string;
  readonly client: Side;
  readonly worker: Side;
}

/** Both pure pairs, plus the two mixed ones that show which side costs what. */
const kPairs: readonly Pair[] = [
  { peer: 'php', label: 'PHP client (doNormal) + PHP worker', client: 'php', worker: 'php' },
  {
    peer: 'gworker',
    label: 'gworker Client (run) + gworker Worker (maxJobs 1)',
    client: 'gworker',
    worker: 'gworker',
  },
  { peer: 'gworker-client', label: 'gworker Client + PHP worker', client: 'gworker', worker: 'php' },
  {
    peer: 'gworker-worker',
    label: 'PHP client + gworker Worker (maxJobs 1)',
    client: 'php',
    worker: 'gworker',
  },
];

interface RoundTrip {
  readonly ns: number;
  readonly count: number;
  /** CPU time of the client process over the timed calls. */
  readonly cpuUs: number;
  readonly meanUs: number;
  readonly p99Us: number;
}

interface RoundTripRun extends RoundTrip {
  /** CPU time of the worker process per job it ran (warm-up calls included). */
  readonly workerCpuUs: number;
}

function spawnWorker(
  side: Side,
  port: number,
  warmFn: string,
  mainFn: string,
  options: LibraryBenchOptions,
): Peer {
  return side === 'php'
    ? phpPeer('PHP worker', 'worker.php', [String(port), warmFn, mainFn])
    : nodePeer('gworker worker', 'worker-peer.ts', [String(port), warmFn, mainFn, '1', '1'], {
        profileDir: options.profileDir,
      });
}

function spawnClient(
  side: Side,
  port: number,
  warmFn: string,
  mainFn: string,
  options: LibraryBenchOptions,
): Peer {
  const args = [
    String(port),
    warmFn,
    mainFn,
    String(options.calls),
    String(options.warmup ?? options.calls),
    kPayload,
  ];
  return side === 'php'
    ? phpPeer('PHP client', 'roundtrip.php', args)
    : nodePeer('gworker client', 'roundtrip-peer.ts', args, { profileDir: options.profileDir });
}

/** One timed run: a fresh gearmand, one worker process, one client timing its own calls after a warm-up. */
async function roundTripOnce(pair: Pair, run: number, options: LibraryBenchOptions): Promise<RoundTripRun> {
  const gearmand = await startGearmand();
  const warmFn = `rt_warm_${run}`;
  const mainFn = `rt_${run}`;
  const peers: Peer[] = [];
  try {
    const worker = spawnWorker(pair.worker, gearmand.port, warmFn, mainFn, options);
    peers.push(worker);
    await worker.waitForLine('ready', 30_000);
    worker.send('go');
    await worker.waitForLine('go ', 10_000);
    const client = spawnClient(pair.client, gearmand.port, warmFn, mainFn, options);
    peers.push(client);
    const result = await client.waitForJson<RoundTrip>('result', options.runTimeoutMs);
    worker.send('stop');
    const done = await worker.waitForJson<WorkerDone>('done', 10_000);
    if (done.main !== options.calls)
      throw new Error(`${pair.label}: the worker ran ${done.main} of ${options.calls} calls`);
    return { ...result, workerCpuUs: done.cpuUs / done.jobs };
  } finally {
    for (const peer of peers.reverse()) await peer.stop(1000);
    await gearmand.stop();
  }
}

/** Round-trip peer keys, for --pairs. */
export const kRoundTripPeers: readonly string[] = kPairs.map((pair) => pair.peer);

/** The pairs `options.roundtripPairs` names (all when none), always with the PHP reference. */
function pairsToRun(options: LibraryBenchOptions): readonly Pair[] {
  const wanted = options.roundtripPairs;
  if (wanted === undefined) return kPairs;
  return kPairs.filter((pair) => pair.peer === 'php' || wanted.includes(pair.peer));
}

/** Foreground round trip bench: sequential calls, one client and one worker. */
export async function runRoundTripBench(options: LibraryBenchOptions): Promise<BenchResult> {
  const warmup = (options.warmup ?? options.calls).toLocaleString('en-US');
  const pairs = pairsToRun(options);
  const results = new Map<string, RoundTripRun[]>(pairs.map((pair) => [pair.peer, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const pair of pairs) {
      const result = await withTimeout(
        roundTripOnce(pair, run, options),
        options.runTimeoutMs + 60_000,
        `round trip run ${run} of ${pair.label}`,
      );
      results.get(pair.peer)?.push(result);
      options.progress(
        `rtrip  run ${run}/${options.runs}  ${pair.label}: ${Math.round((result.count * 1e9) / result.ns)} calls/s, ${result.meanUs.toFixed(1)} us mean, CPU us client ${(result.cpuUs / result.count).toFixed(1)} worker ${result.workerCpuUs.toFixed(1)}`,
      );
    }
  }
  const drafts: RowDraft[] = pairs.map((pair) => {
    const runs = results.get(pair.peer) ?? [];
    return {
      peer: pair.peer,
      label: pair.label,
      side: pair.peer === 'php' ? 'php' : pair.peer === 'gworker' ? 'ours' : 'mixed',
      versus: pair.peer === 'php' ? null : 'php',
      rates: runs.map((result) => (result.count * 1e9) / result.ns),
      metrics: {
        meanUs: runs.map((result) => result.meanUs),
        p99Us: runs.map((result) => result.p99Us),
        clientCpuUs: runs.map((result) => result.cpuUs / result.count),
        workerCpuUs: runs.map((result) => result.workerCpuUs),
      },
    };
  });
  const rows = finishRows(drafts);
  return {
    name: 'roundtrip',
    title: `Foreground round trip: ${options.calls.toLocaleString('en-US')} sequential calls, one client, one worker`,
    unit: 'calls/s',
    columns: [
      { key: 'meanUs', header: 'mean us' },
      { key: 'p99Us', header: 'p99 us' },
      { key: 'clientCpuUs', header: 'client CPU us/call' },
      { key: 'workerCpuUs', header: 'worker CPU us/job' },
    ],
    rows,
    goals: [goal('round trip: gworker client + worker no slower than PHP + PHP', rows, 'gworker', 'php')],
    notes: [
      `each run: fresh gearmand (default threads); ${warmup} warm-up calls of another function first, untimed;`,
      'timed inside the client process; latency is per call, mean and p99 (median over runs);',
      'CPU us: user + system CPU time of the client (timed calls) and of the worker (per job) process',
    ],
  };
}
