/**
 * `gworker start` (the supervisor: handlers in worker threads, per-function connections,
 * hot reload) against real peers on a fresh gearmand 1.1.20 per run:
 *
 * - default: the default manifest (concurrency 4, connections 4) draining tiny jobs vs
 *   FOUR PHP worker processes, and a PHP client's foreground calls through one thread
 *   (concurrency 1) vs ONE PHP worker process (supervisor-default.ts; issue 13);
 * - drain: tiny background jobs queued first, drained by ONE supervisor vs FOUR PHP
 *   worker processes, and by the library's bare Worker (the cost of the thread hop);
 * - cpu: 200 jobs of ~20 ms of pure computation (and again of sha256 in native crypto),
 *   concurrency 2 on 2 cores, without and with prefetch, wall time vs the ideal,
 *   next to two PHP worker processes doing the same;
 * - reload: handler file written -> first job served by the new code, and every call's
 *   fate during 50 reloads under steady foreground load;
 * - memory: the supervisor's resident memory idle and with 8 threads busy;
 * - idle: threads on demand, 40 functions x concurrency 2 (built): start-up, idle memory, first job after idle;
 * - autoscale: two functions busy in turn, autoscaled vs the best hand-set split
 *   (bench/lib/supervisor-autoscale.ts; alone: `npm run bench -- --only supervisor-autoscale`).
 *
 * The supervisor runs as `node bin/gworker.js start MANIFEST` with a generated manifest
 * naming the bench's gearmand. Run it with `npm run bench -- --only supervisor`.
 */
import { type AutoscaleSection, supervisorAutoscaleSection } from './lib/supervisor-autoscale.js';
import { kCpuPrefetch, kCpuWorkloads, supervisorCpuSection } from './lib/supervisor-cpu.js';
import { supervisorDefaultSections } from './lib/supervisor-default.js';
import { type SupervisorDrainSettings, supervisorDrainSection } from './lib/supervisor-drain.js';
import { supervisorIdleSection } from './lib/supervisor-idle.js';
import { supervisorMemorySection } from './lib/supervisor-memory.js';
import { supervisorReloadSections } from './lib/supervisor-reload.js';
import {
  atLeastGoal,
  formatSectionedBench,
  rowOf,
  type SectionedBenchResult,
  type WordedGoal,
} from './lib/supervisor-report.js';
import { fmtRatio } from './lib/table.js';
import type { LibraryBenchOptions } from './lib/types.js';

/**
 * The manifest settings for tiny jobs. The main thread is the bottleneck (the hop to a
 * handler thread costs it far more per job than the handler does), so one handler thread
 * with many jobs in flight leaves it the biggest share of the 2 cores, and more jobs per
 * event-loop turn. The sweep behind this choice is in bench/README.md.
 */
export const kSupervisorDrainSettings: SupervisorDrainSettings = {
  concurrency: 128,
  jobsPerThread: 128,
  connections: 1,
};

/** Within 5% of the ideal wall time. */
const kCpuGoal = 1.05;

/** Only the default-manifest rows (`--only supervisor-default`): issue 13's goals 1 and 2. */
export async function runSupervisorDefaultBench(options: LibraryBenchOptions): Promise<SectionedBenchResult> {
  const defaults = await supervisorDefaultSections(options);
  return {
    name: 'supervisor-default',
    title: 'gworker start with the default manifest through gearmand 1.1.20',
    unit: 'mixed',
    columns: [],
    rows: [],
    notes: [],
    sections: defaults.sections,
    goals: defaults.goals,
    settings: {},
  };
}

/** Autoscaled throughput within 10% of the best hand-set split, in every phase (issue 15). */
const kAutoscaleGoal = 0.9;

function autoscaleGoal(autoscale: AutoscaleSection): WordedGoal {
  const worst = Math.min(...autoscale.ratios);
  const row = (peer: string) => rowOf(autoscale.section, peer);
  return {
    text: `autoscale: two functions busy in turn, concurrency { min: 1, max: 2 }, throughput within ${Math.round((1 - kAutoscaleGoal) * 100)}% of the best hand-set split in each phase`,
    ours: 'autoscale',
    reference: 'hand-set',
    oursMedian: row('autoscale A')?.median ?? Number.NaN,
    referenceMedian: row('hand-set A')?.median ?? Number.NaN,
    ratio: worst,
    met: worst >= kAutoscaleGoal,
    figures: `A ${fmtRatio(autoscale.ratios[0] ?? Number.NaN)}, B ${fmtRatio(autoscale.ratios[1] ?? Number.NaN)} of hand-set (min 0: A ${fmtRatio(row('autoscale-min0 A')?.ratio ?? Number.NaN)}, B ${fmtRatio(row('autoscale-min0 B')?.ratio ?? Number.NaN)})`,
  };
}

/** The autoscale row alone (`npm run bench -- --only supervisor-autoscale`). */
export async function runSupervisorAutoscaleBench(
  options: LibraryBenchOptions,
): Promise<SectionedBenchResult> {
  const autoscale = await supervisorAutoscaleSection(options);
  return {
    name: 'supervisor-autoscale',
    title: 'gworker start autoscaling through gearmand 1.1.20',
    unit: 'mixed',
    columns: [],
    rows: [],
    notes: [],
    sections: [autoscale.section],
    goals: [autoscaleGoal(autoscale)],
    settings: {},
  };
}

/** The threads-on-demand row alone (`npm run bench -- --only supervisor-idle`). */
export async function runSupervisorIdleBench(options: LibraryBenchOptions): Promise<SectionedBenchResult> {
  const idle = await supervisorIdleSection(options);
  return {
    name: 'supervisor-idle',
    title: 'gworker start with 40 functions, threads on demand',
    unit: 'mixed',
    columns: [],
    rows: [],
    notes: [],
    sections: [idle.section],
    goals: idle.goals,
    settings: {},
  };
}

export async function runSupervisorBench(options: LibraryBenchOptions): Promise<SectionedBenchResult> {
  const defaults = await supervisorDefaultSections(options);
  const drain = await supervisorDrainSection(kSupervisorDrainSettings, options);
  const cpu = await supervisorCpuSection(kCpuWorkloads.mix, options);
  // Reported, not a goal: threads of one process share OpenSSL, two processes do not.
  const cpuSha = await supervisorCpuSection(kCpuWorkloads.sha, options);
  const reload = await supervisorReloadSections(options);
  const memory = await supervisorMemorySection(options);
  const idle = await supervisorIdleSection(options);
  const autoscale = await supervisorAutoscaleSection(options);

  // Judged with prefetch: 1, the manifest setting for steady CPU-heavy batches; the
  // default (grab only with a free slot) is in the figures beside it.
  const ours = rowOf(cpu.section, 'supervisor-prefetch');
  const plain = rowOf(cpu.section, 'supervisor');
  const ideal = rowOf(cpu.section, 'ideal-node');
  const php = rowOf(cpu.section, 'php-2');
  const cpuRatio = ours?.ratio ?? Number.NaN;
  const cpuGoal: WordedGoal = {
    text: `cpu: 200 x 20 ms jobs of pure computation, concurrency 2 (prefetch: ${kCpuPrefetch}), wall time within ${kCpuGoal.toFixed(2)}x of the ideal`,
    ours: ours?.label ?? 'supervisor-prefetch',
    reference: ideal?.label ?? 'ideal',
    oursMedian: ours?.median ?? Number.NaN,
    referenceMedian: ideal?.median ?? Number.NaN,
    ratio: cpuRatio,
    met: cpuRatio <= kCpuGoal,
    figures: `${fmtRatio(cpuRatio)} of ideal (${Math.round(ours?.median ?? Number.NaN)} vs ${Math.round(ideal?.median ?? Number.NaN)} ms; without prefetch ${fmtRatio(plain?.ratio ?? Number.NaN)}; PHP x2: ${fmtRatio(php?.ratio ?? Number.NaN)} of its ideal)`,
  };
  const bare = rowOf(drain, 'bare');
  const supervisor = rowOf(drain, 'supervisor');
  const hop = (supervisor?.median ?? Number.NaN) / (bare?.median ?? Number.NaN);
  return {
    name: 'supervisor',
    title: 'gworker start (the supervisor) through gearmand 1.1.20',
    unit: 'mixed',
    columns: [],
    rows: [],
    notes: [],
    sections: [
      ...defaults.sections,
      drain,
      cpu.section,
      cpuSha.section,
      reload.latency,
      reload.safety,
      memory,
      idle.section,
      autoscale.section,
    ],
    goals: [
      ...defaults.goals,
      atLeastGoal(
        'supervisor drain: one gworker start >= 4 PHP worker processes',
        drain,
        'supervisor',
        'php-4',
      ),
      cpuGoal,
      reload.goal,
      ...idle.goals,
      autoscaleGoal(autoscale),
    ],
    settings: {
      drain: kSupervisorDrainSettings,
      threadHopRatio: Number.isFinite(hop) ? hop : null,
      cpuCalibration: { node: cpu.node, php: cpu.php },
      cpuShaCalibration: { node: cpuSha.node, php: cpuSha.php },
    },
  };
}

export function formatSupervisorBench(result: SectionedBenchResult): string {
  return formatSectionedBench(result);
}
