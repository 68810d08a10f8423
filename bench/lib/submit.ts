import { startGearmand } from './gearmand.js';
import { nodePeer, type Peer, phpPeer } from './processes.js';
import { QueueWatch } from './queue.js';
import { finishRows, goal, type RowDraft } from './rows.js';
import { withTimeout } from './stats.js';
import type { BenchResult, LibraryBenchOptions } from './types.js';

const kPayload = 'submit-payload16';

interface SubmitPeer {
  readonly peer: string;
  readonly label: string;
  readonly side: 'ours' | 'php';
  readonly versus: string | null;
  spawn(port: number, warmFn: string, mainFn: string, options: LibraryBenchOptions): Peer;
}

const kPeers: readonly SubmitPeer[] = [
  {
    peer: 'php-batch',
    label: 'PHP pecl client, addTaskBackground x N + runTasks',
    side: 'php',
    versus: null,
    spawn: (port, warmFn, mainFn, options) =>
      phpPeer('PHP client (batch)', 'submit.php', [
        String(port),
        warmFn,
        mainFn,
        String(options.jobs),
        String(options.warmup ?? options.jobs),
        'batch',
        kPayload,
      ]),
  },
  {
    peer: 'php-single',
    label: 'PHP pecl client, doBackground one at a time',
    side: 'php',
    versus: 'php-batch',
    spawn: (port, warmFn, mainFn, options) =>
      phpPeer('PHP client (single)', 'submit.php', [
        String(port),
        warmFn,
        mainFn,
        String(options.jobs),
        String(options.warmup ?? options.jobs),
        'single',
        kPayload,
      ]),
  },
  {
    peer: 'gworker',
    label: 'gworker Client, submitBackground x N at once (pipelined)',
    side: 'ours',
    versus: 'php-batch',
    spawn: (port, warmFn, mainFn, options) =>
      nodePeer(
        'gworker client',
        'submit-peer.ts',
        [
          String(port),
          warmFn,
          mainFn,
          String(options.jobs),
          String(options.warmup ?? options.jobs),
          '0',
          kPayload,
        ],
        { profileDir: options.profileDir },
      ),
  },
];

/**
 * One timed run: a fresh gearmand (so every run starts from an empty queue and hash
 * table), no workers; the client times its own submits, from the first submit to the
 * last handle, after an untimed warm-up batch. The harness then checks that gearmand
 * holds exactly `jobs` jobs of the function.
 */
interface SubmitRun {
  readonly rate: number;
  readonly clientCpuUs: number;
}

async function submitOnce(peer: SubmitPeer, run: number, options: LibraryBenchOptions): Promise<SubmitRun> {
  const gearmand = await startGearmand();
  const watch = new QueueWatch(gearmand.port);
  const mainFn = `submit_${run}`;
  let client: Peer | undefined;
  try {
    client = peer.spawn(gearmand.port, `submit_warm_${run}`, mainFn, options);
    const result = await client.waitForJson<{ ns: number; count: number; cpuUs: number }>(
      'result',
      options.runTimeoutMs,
    );
    const queued = await watch.total(mainFn);
    if (queued !== options.jobs)
      throw new Error(`${peer.label}: gearmand holds ${queued} jobs, expected ${options.jobs}`);
    return { rate: (result.count * 1e9) / result.ns, clientCpuUs: result.cpuUs / result.count };
  } finally {
    await client?.stop(2000);
    await watch.close();
    await gearmand.stop();
  }
}

/** Background submit bench: PHP batched and one-at-a-time against our pipelined Client. */
export async function runSubmitBench(options: LibraryBenchOptions): Promise<BenchResult> {
  const warmup = (options.warmup ?? options.jobs).toLocaleString('en-US');
  const runs = new Map<string, SubmitRun[]>(kPeers.map((peer) => [peer.peer, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const peer of kPeers) {
      const result = await withTimeout(
        submitOnce(peer, run, options),
        options.runTimeoutMs + 30_000,
        `submit run ${run} of ${peer.label}`,
      );
      runs.get(peer.peer)?.push(result);
      options.progress(
        `submit run ${run}/${options.runs}  ${peer.label}: ${Math.round(result.rate)} jobs/s, ${result.clientCpuUs.toFixed(1)} us CPU/job`,
      );
    }
  }
  const drafts: RowDraft[] = kPeers.map((peer) => ({
    peer: peer.peer,
    label: peer.label,
    side: peer.side,
    versus: peer.versus,
    rates: (runs.get(peer.peer) ?? []).map((result) => result.rate),
    metrics: { clientCpuUs: (runs.get(peer.peer) ?? []).map((result) => result.clientCpuUs) },
  }));
  const rows = finishRows(drafts);
  return {
    name: 'submit',
    title: `Background submits: ${options.jobs.toLocaleString('en-US')} tiny jobs, no workers running`,
    unit: 'jobs/s',
    columns: [{ key: 'clientCpuUs', header: 'client CPU us/job' }],
    rows,
    goals: [goal('submit: gworker pipelined >= PHP batched', rows, 'gworker', 'php-batch')],
    notes: [
      `each run: fresh gearmand (default threads); ${warmup} warm-up submits of another function first, untimed;`,
      'timed inside the client process from the first submit to the last JOB_CREATED;',
      'client CPU us/job: user + system CPU time of the client process per submit',
    ],
  };
}
