/**
 * The supervisor as users run it (issue 13): the default manifest, nothing tuned beyond
 * `concurrency` and `connections`, against the PHP worker processes it replaces, in the
 * same run. Two rows, each with its goal: the tiny-job drain (`connections: 4`,
 * `concurrency: 4`, jobsPerThread left at its default of 1, vs four PHP workers) and the
 * foreground round trip (supervisor-roundtrip.ts).
 */
import { ratio, withTimeout } from './stats.js';
import { drainOnce, type SupervisorDrainSettings } from './supervisor-drain.js';
import { atLeastGoal, finishSectionRows, rowOf, type Section, type WordedGoal } from './supervisor-report.js';
import { supervisorRoundTripSection } from './supervisor-roundtrip.js';
import { fmtRatio } from './table.js';
import { measureThreadWake } from './thread-wake.js';
import type { LibraryBenchOptions } from './types.js';

/** Goal 1's manifest: what a user writes for four jobs at once, nothing else. */
export const kDefaultDrainSettings: SupervisorDrainSettings = { concurrency: 4, connections: 4 };

/** Goal 2: calls/s at least this share of one PHP worker's... */
const kRoundTripRateGoal = 0.9;
/** ...and the median latency at most this multiple of it. */
const kRoundTripP50Goal = 1.15;

type DrainKind = 'php-4' | 'supervisor' | 'supervisor-thread';

interface DrainRun {
  readonly rate: number;
  readonly cpuUsPerJob: number;
}

/** Default-manifest drain: PHP x4 (reference) and gworker start, interleaved run by run. */
export async function supervisorDefaultDrainSection(options: LibraryBenchOptions): Promise<Section> {
  const kinds: DrainKind[] = ['php-4', 'supervisor', 'supervisor-thread'];
  const runs = new Map<DrainKind, DrainRun[]>(kinds.map((kind) => [kind, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const kind of kinds) {
      const result = await withTimeout(
        drainOnce(kind, run, kDefaultDrainSettings, options),
        options.runTimeoutMs * 2 + 60_000,
        `supervisor default drain run ${run} (${kind})`,
      );
      runs.get(kind)?.push(result);
      options.progress(
        `sv-default-drain run ${run}/${options.runs}  ${kind}: ${Math.round(result.rate)} jobs/s, ${result.cpuUsPerJob.toFixed(1)} us CPU/job`,
      );
    }
  }
  const { concurrency, connections } = kDefaultDrainSettings;
  const rows = finishSectionRows(
    kinds.map((kind) => ({
      peer: kind,
      label:
        kind === 'php-4'
          ? 'PHP pecl worker, 4 processes'
          : kind === 'supervisor'
            ? `gworker start, default manifest (concurrency ${concurrency}, connections ${connections})`
            : `gworker start, dispatch: thread (concurrency ${concurrency}: ${concurrency} threads, each its own connection)`,
      side: kind === 'php-4' ? ('php' as const) : ('ours' as const),
      versus: kind === 'php-4' ? null : 'php-4',
      values: (runs.get(kind) ?? []).map((r) => r.rate),
      metrics: { cpuUs: (runs.get(kind) ?? []).map((r) => r.cpuUsPerJob) },
    })),
    true,
  );
  const wake = await measureThreadWake();
  const cpuRatio = ratio(
    rowOf({ rows } as Section, 'supervisor')?.metrics.cpuUs ?? Number.NaN,
    rowOf({ rows } as Section, 'php-4')?.metrics.cpuUs ?? Number.NaN,
  );
  return {
    key: 'default-drain',
    title: `Default manifest, tiny jobs: ${options.jobs.toLocaleString('en-US')} background jobs queued first, drained through gearmand`,
    unit: 'jobs/s',
    higherIsBetter: true,
    columns: [{ key: 'cpuUs', header: 'worker CPU us/job', digits: 1 }],
    rows,
    notes: [
      'the manifest sets only concurrency and connections (jobsPerThread 1, no prefetch: the defaults); echo handler;',
      'same clock, warm-up and checks as the tuned drain above;',
      `CPU per job, gworker start / PHP x4 (summed over the 4 processes): ${fmtRatio(cpuRatio)} (medians)`,
      `waking a sleeping thread on this machine (bench/lib/thread-wake.ts): ${wake.notifyUs.toFixed(1)} us of the waker's CPU, ${wake.latencyUs.toFixed(1)} us until it runs (medians);`,
      '  the default path pays two such wake-ups per tiny job (job to the handler thread, result back), dispatch: thread none',
    ],
  };
}

/** Both default-manifest sections and their goals. */
export async function supervisorDefaultSections(
  options: LibraryBenchOptions,
): Promise<{ sections: Section[]; goals: WordedGoal[] }> {
  const drain = await supervisorDefaultDrainSection(options);
  const roundTrip = await supervisorRoundTripSection(options);
  const ours = rowOf(roundTrip, 'supervisor');
  const php = rowOf(roundTrip, 'php');
  const rate = ours?.ratio ?? Number.NaN;
  const p50 = ratio(ours?.metrics.p50Us ?? Number.NaN, php?.metrics.p50Us ?? Number.NaN);
  const p99 = ratio(ours?.metrics.p99Us ?? Number.NaN, php?.metrics.p99Us ?? Number.NaN);
  const option = rowOf(roundTrip, 'supervisor-thread');
  const optionRate = option?.ratio ?? Number.NaN;
  const optionP50 = ratio(option?.metrics.p50Us ?? Number.NaN, php?.metrics.p50Us ?? Number.NaN);
  const optionGoal: WordedGoal = {
    text: `supervisor foreground round trip, opt-in dispatch: thread (concurrency 1) >= ${kRoundTripRateGoal.toFixed(2)}x one PHP worker's calls/s, p50 <= ${kRoundTripP50Goal.toFixed(2)}x`,
    ours: option?.label ?? 'supervisor-thread',
    reference: php?.label ?? 'php',
    oursMedian: option?.median ?? Number.NaN,
    referenceMedian: php?.median ?? Number.NaN,
    ratio: optionRate,
    met: optionRate >= kRoundTripRateGoal && optionP50 <= kRoundTripP50Goal,
    figures: `${fmtRatio(optionRate)} calls/s (${Math.round(option?.median ?? Number.NaN)}/s); p50 ${fmtRatio(optionP50)} (${(option?.metrics.p50Us ?? Number.NaN).toFixed(0)} us)`,
  };
  const roundTripGoal: WordedGoal = {
    text: `supervisor foreground round trip: gworker start (concurrency 1, defaults) >= ${kRoundTripRateGoal.toFixed(2)}x one PHP worker's calls/s, p50 <= ${kRoundTripP50Goal.toFixed(2)}x`,
    ours: ours?.label ?? 'supervisor',
    reference: php?.label ?? 'php',
    oursMedian: ours?.median ?? Number.NaN,
    referenceMedian: php?.median ?? Number.NaN,
    ratio: rate,
    met: rate >= kRoundTripRateGoal && p50 <= kRoundTripP50Goal,
    figures: `${fmtRatio(rate)} calls/s (${Math.round(ours?.median ?? Number.NaN)} vs ${Math.round(php?.median ?? Number.NaN)}/s); p50 ${fmtRatio(p50)} (${(ours?.metrics.p50Us ?? Number.NaN).toFixed(0)} vs ${(php?.metrics.p50Us ?? Number.NaN).toFixed(0)} us); p99 ${fmtRatio(p99)}`,
  };
  return {
    sections: [drain, roundTrip],
    goals: [
      atLeastGoal(
        'supervisor default drain: gworker start, default manifest (concurrency 4, connections 4) >= 4 PHP worker processes',
        drain,
        'supervisor',
        'php-4',
      ),
      atLeastGoal(
        'supervisor default drain, opt-in dispatch: thread (concurrency 4) >= 4 PHP worker processes',
        drain,
        'supervisor-thread',
        'php-4',
      ),
      roundTripGoal,
      optionGoal,
    ],
  };
}
