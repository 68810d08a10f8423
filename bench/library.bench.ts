/**
 * Library benches against real peers: the same fresh gearmand 1.1.20 (default threads)
 * for each side, PHP's pecl gearman extension as the reference.
 *
 * - drain: 20,000 tiny background jobs queued first, then drained by PHP workers (1 and
 *   4 processes) or by ONE Node process running our Worker;
 * - submit: 20,000 tiny background submits, PHP batched (and one at a time) against our
 *   pipelined Client;
 * - roundtrip: sequential foreground calls, one client and one worker.
 *
 * Every measured side runs in its own child process (bench/lib/*-peer.ts for ours,
 * bench/peers/*.php for PHP) and times itself, or is timed by the harness from outside
 * through gearmand's `status`: the harness's own event loop never sits next to the
 * measured client or worker. Run them with `npm run bench` (see bench/README.md).
 */
import { runDrainBench } from './lib/drain.js';
import { runRoundTripBench } from './lib/roundtrip.js';
import { runSubmitBench } from './lib/submit.js';
import { fmtInt, fmtRatio, fmtUs, formatTable } from './lib/table.js';
import type { BenchResult, LibraryBenchOptions } from './lib/types.js';

export type {
  BenchResult,
  Goal,
  LibraryBenchOptions,
  MetricColumn,
  Row,
  WorkerSettings,
} from './lib/types.js';

/** The library benches by name, in the order the runner runs them. */
export const libraryBenches: Readonly<
  Record<string, (options: LibraryBenchOptions) => Promise<BenchResult>>
> = {
  drain: runDrainBench,
  submit: runSubmitBench,
  roundtrip: runRoundTripBench,
};

/** Defaults: the jobs, calls and runs the brief and the reference figures use. */
export const kLibraryDefaults = {
  runs: 3,
  jobs: 20_000,
  calls: 5_000,
  // From a sweep on a 2-core machine (bench/README.md): anything from 64 grabs in flight on
  // beats 4 PHP processes by 3x or more; 64 per socket on two sockets is the Worker docs' advice.
  drainSettings: [{ maxJobs: 64, connections: 2 }],
  runTimeoutMs: 60_000,
} as const;

/** One bench's rows as a plain text table, with its notes underneath. */
export function formatLibraryBench(result: BenchResult): string {
  const { unit, columns } = result;
  const header = [
    'bench',
    'peer',
    `${unit} min`,
    `${unit} median`,
    'ratio vs PHP (median)',
    'vs',
    ...columns.map((column) => column.header),
  ];
  const rows = result.rows.map((row) => [
    result.name,
    row.label,
    fmtInt(row.minRate),
    fmtInt(row.medianRate),
    fmtRatio(row.ratio),
    row.versus ?? '(reference)',
    ...columns.map((column) => fmtUs(row.metrics[column.key] ?? Number.NaN)),
  ]);
  const runs = result.rows[0]?.rates.length ?? 0;
  return [
    `${result.title} (${runs} runs; min = slowest run)`,
    formatTable(header, rows),
    ...result.notes.map((note) => `  ${note}`),
  ].join('\n');
}
