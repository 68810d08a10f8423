/**
 * Our embedded job server (`node bin/gworker.js server`) against gearmand 1.1.20 (default
 * threads), with the same clients and workers, in one run:
 *
 * - submit-ours: pipelined background submits by our Client (bench/lib/submit-peer.ts);
 * - submit-php: the PHP batch client (addTaskBackground x N + runTasks);
 * - drain-php4: 20,000 tiny jobs queued first, drained by four PHP worker processes;
 * - roundtrip-php: sequential foreground calls, PHP client + PHP worker.
 *
 * Then the same with durable queues: our `--store FILE` (SQLite) next to gearmand's
 * libsqlite3 queue. Every run gets a fresh server. Goal: ours at least as fast as
 * gearmand (memory) on each case. Run it with `npm run bench -- --only server`.
 */
import { type CaseName, type CaseRun, type CaseSize, runCase } from './lib/server-cases.js';
import { type BenchServer, type ServerKind, serverHasStore, startBenchServer } from './lib/server-targets.js';
import { withTimeout } from './lib/stats.js';
import {
  atLeastGoal,
  finishSectionRows,
  formatSectionedBench,
  type Section,
  type SectionedBenchResult,
} from './lib/supervisor-report.js';
import type { LibraryBenchOptions } from './lib/types.js';

/**
 * gearmand's libsqlite3 queue commits (and syncs) every job on its own: about a thousand
 * jobs a second here, so its submit and drain cases use at most this many jobs.
 */
const kGearmandSqliteJobs = 2_000;

const kServerLabels: Record<ServerKind, string> = {
  gearmand: 'gearmand 1.1.20, memory (default threads)',
  gworker: 'gworker server, memory',
  'gearmand-sqlite': 'gearmand 1.1.20, -q libsqlite3',
  'gworker-store': 'gworker server, --store (SQLite, sync full)',
};

/** What each row's ratio compares with: ours with gearmand, each durable queue with its in-memory self's rival. */
const kVersus: Record<ServerKind, ServerKind | null> = {
  gearmand: null,
  gworker: 'gearmand',
  'gearmand-sqlite': 'gearmand',
  'gworker-store': 'gearmand-sqlite',
};

interface CaseSpec {
  readonly name: CaseName;
  readonly title: string;
  readonly unit: string;
  readonly goal: string;
}

function caseSpecs(options: LibraryBenchOptions): CaseSpec[] {
  const jobs = options.jobs.toLocaleString('en-US');
  return [
    {
      name: 'submit-ours',
      title: `Server: ${jobs} pipelined background submits by gworker's Client`,
      unit: 'jobs/s',
      goal: 'server: gworker server >= gearmand, background submits by gworker Client',
    },
    {
      name: 'submit-php',
      title: `Server: ${jobs} background submits by the PHP batch client (addTaskBackground + runTasks)`,
      unit: 'jobs/s',
      goal: 'server: gworker server >= gearmand, background submits by PHP batch client',
    },
    {
      name: 'drain-php4',
      title: `Server: ${jobs} tiny jobs queued first, drained by 4 PHP worker processes`,
      unit: 'jobs/s',
      goal: 'server: gworker server >= gearmand, drain by 4 PHP workers',
    },
    {
      name: 'roundtrip-php',
      title: `Server: ${options.calls.toLocaleString('en-US')} sequential foreground calls, PHP client + PHP worker`,
      unit: 'calls/s',
      goal: 'server: gworker server >= gearmand, foreground round trips (PHP + PHP)',
    },
  ];
}

function sizeFor(name: CaseName, kind: ServerKind, options: LibraryBenchOptions): CaseSize {
  const count = name === 'roundtrip-php' ? options.calls : options.jobs;
  const warmup = options.warmup ?? count;
  if (kind !== 'gearmand-sqlite' || name === 'roundtrip-php') return { count, warmup };
  return { count: Math.min(count, kGearmandSqliteJobs), warmup: Math.min(warmup, kGearmandSqliteJobs) };
}

async function once(
  name: CaseName,
  kind: ServerKind,
  run: number,
  options: LibraryBenchOptions,
): Promise<CaseRun> {
  const server: BenchServer = await startBenchServer(kind, { profileDir: options.profileDir });
  try {
    return await runCase(name, server, run, sizeFor(name, kind, options), options);
  } finally {
    await server.stop();
  }
}

export async function runServerBench(options: LibraryBenchOptions): Promise<SectionedBenchResult> {
  const hasStore = serverHasStore();
  const kinds: ServerKind[] = [
    'gearmand',
    'gworker',
    'gearmand-sqlite',
    ...(hasStore ? (['gworker-store'] as const) : []),
  ];
  const specs = caseSpecs(options);
  const results = new Map<string, CaseRun[]>();
  const key = (name: CaseName, kind: ServerKind) => `${name}/${kind}`;
  // Interleaved: run 1 of every case on every server, then run 2..., so bursts of load
  // from elsewhere hit every server alike.
  for (let run = 1; run <= options.runs; run++) {
    for (const spec of specs) {
      for (const kind of kinds) {
        const result = await withTimeout(
          once(spec.name, kind, run, options),
          options.runTimeoutMs * 2 + 60_000,
          `server ${spec.name} run ${run} on ${kind}`,
        );
        const list = results.get(key(spec.name, kind)) ?? [];
        list.push(result);
        results.set(key(spec.name, kind), list);
        const latency = result.meanUs === undefined ? '' : `, ${result.meanUs.toFixed(0)} us mean`;
        options.progress(
          `server run ${run}/${options.runs}  ${spec.name} on ${kind}: ${Math.round(result.rate)} ${spec.unit}${latency}`,
        );
      }
    }
  }
  const sections: Section[] = specs.map((spec) => {
    const isRoundTrip = spec.name === 'roundtrip-php';
    const rows = finishSectionRows(
      kinds.map((kind) => {
        const runs = results.get(key(spec.name, kind)) ?? [];
        const size = sizeFor(spec.name, kind, options);
        const label =
          size.count === (isRoundTrip ? options.calls : options.jobs)
            ? kServerLabels[kind]
            : `${kServerLabels[kind]} (${size.count.toLocaleString('en-US')} jobs)`;
        return {
          peer: kind,
          label,
          side: kind.startsWith('gworker') ? 'ours' : 'gearmand',
          versus:
            kVersus[kind] !== null && kinds.includes(kVersus[kind] as ServerKind) ? kVersus[kind] : null,
          values: runs.map((r) => r.rate),
          metrics: {
            serverCpuUs: runs.map((r) => r.serverCpuUs),
            ...(isRoundTrip
              ? {
                  meanUs: runs.map((r) => r.meanUs ?? Number.NaN),
                  p99Us: runs.map((r) => r.p99Us ?? Number.NaN),
                }
              : {}),
          },
        };
      }),
      true,
    );
    const notes = [
      'each run: a fresh server on 127.0.0.1; the same client and worker programs against each; warm-up of another function first, untimed;',
      'ratio: gworker vs gearmand (memory); gearmand -q libsqlite3 vs gearmand (memory); gworker --store vs gearmand -q libsqlite3;',
      'server CPU us/op: user + system CPU of the server process (all threads) per submit, drained job or call, warm-up included (/proc)',
    ];
    if (!hasStore)
      notes.push(
        'gworker server --store: not available in this checkout (gworker server --help lists no --store)',
      );
    if (spec.name === 'drain-php4')
      notes.push(
        'timed from the first worker registering the function to the `status` reply showing it empty (polled every 2 ms)',
      );
    return {
      key: spec.name,
      title: spec.title,
      unit: spec.unit,
      higherIsBetter: true,
      columns: [
        { key: 'serverCpuUs', header: 'server CPU us/op', digits: 1 },
        ...(isRoundTrip
          ? [
              { key: 'meanUs', header: 'mean us', digits: 1 },
              { key: 'p99Us', header: 'p99 us', digits: 1 },
            ]
          : []),
      ],
      rows,
      notes,
    };
  });
  return {
    name: 'server',
    title: 'gworker server vs gearmand 1.1.20: same clients, same workers',
    unit: 'mixed',
    columns: [],
    rows: [],
    notes: [],
    sections,
    goals: specs.map((spec, i) => atLeastGoal(spec.goal, sections[i] as Section, 'gworker', 'gearmand')),
    settings: { servers: kinds, gearmandSqliteJobs: kGearmandSqliteJobs, store: hasStore },
  };
}

export function formatServerBench(result: SectionedBenchResult): string {
  return formatSectionedBench(result);
}
