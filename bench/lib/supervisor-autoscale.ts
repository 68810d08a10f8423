/**
 * Autoscaling (issue 15): two functions whose load alternates, A busy then B busy, on a
 * box of 2 slots (`box: { slots: 2 }`: never more than 2 jobs at once, whatever each
 * function's concurrency). Each phase is a backlog of foreground jobs of one
 * function, queued at gearmand while the supervisor runs; its throughput is the jobs
 * over the time from the first submit to the last result. Three supervisors, each on a
 * fresh gearmand per run:
 *
 * - hand-set: A and B at concurrency 2, the best hand-set split for either phase (with
 *   one function busy at a time, A=2 in A's phase and B=2 in B's are the same manifest);
 * - autoscale min 1: both at `concurrency: { min: 1, max: 2 }`;
 * - autoscale min 0: both at `concurrency: { min: 0, max: 2 }` (reported, not a goal:
 *   the first job of a phase waits for a sample with no slot at all).
 *
 * The autoscaler samples every 250 ms and lets idle slots go after 2 s (`autoscale:` in
 * the manifest): a bench of seconds, not minutes. Jobs sleep 20 ms rather than spin:
 * with a sleep the slots alone bound the throughput, which is what the autoscaler moves,
 * while a CPU loop on this shared 2-core box would measure the other processes too.
 */
import { fileURLToPath } from 'node:url';
import { ForegroundBatch } from './foreground-batch.js';
import { startGearmand } from './gearmand.js';
import { collectHarnessGarbage, nowNs } from './stats.js';
import { type SupervisorChild, scratchDir, startSupervisor, writeManifest } from './supervisor-process.js';
import { finishSectionRows, type Section, type SectionRowDraft } from './supervisor-report.js';
import type { LibraryBenchOptions } from './types.js';

const kHandler = fileURLToPath(new URL('../fixtures/sleep-handler.mjs', import.meta.url));
const kJobMs = 20;
/** Jobs per phase: 6 s of work on 2 slots, long against the autoscaler's ~0.5 s to react. */
const kPhaseJobs = 600;
const kAutoscale = '{ interval: 250ms, scaleDownAfter: 2s }';
const kPhases = ['A', 'B'] as const;

interface Setup {
  readonly peer: string;
  readonly label: string;
  readonly concurrency: number | string;
}

const kSetups: readonly Setup[] = [
  { peer: 'hand-set', label: 'hand-set, concurrency 2', concurrency: 2 },
  { peer: 'autoscale', label: 'autoscale { min: 1, max: 2 }', concurrency: '{ min: 1, max: 2 }' },
  { peer: 'autoscale-min0', label: 'autoscale { min: 0, max: 2 }', concurrency: '{ min: 0, max: 2 }' },
];

/** One run of a setup: jobs per second in each phase. */
async function runPhases(setup: Setup, run: number, options: LibraryBenchOptions): Promise<number[]> {
  const gearmand = await startGearmand();
  const scratch = scratchDir('autoscale');
  const names = kPhases.map((phase) => `sv_auto_${setup.peer.replace('-', '_')}_${run}_${phase}`);
  let supervisor: SupervisorChild | null = null;
  try {
    const { file } = await writeManifest(scratch.path, {
      gearmandPort: gearmand.port,
      connections: 1,
      autoscale: kAutoscale,
      // The box runs 2 jobs at once whatever each function's slots: the split is the question.
      box: '{ slots: 2 }',
      functions: names.map((name) => ({
        name,
        handler: kHandler,
        concurrency: setup.concurrency,
        payload: 'text' as const,
      })),
    });
    collectHarnessGarbage();
    supervisor = await startSupervisor(file, { label: `gworker start (${setup.label})`, watch: false });
    const rates: number[] = [];
    for (const name of names) {
      const start = nowNs();
      const batch = await ForegroundBatch.queue(gearmand.port, name, kPhaseJobs, String(kJobMs));
      try {
        const end = await batch.finished(options.runTimeoutMs);
        rates.push(kPhaseJobs / (Number(end - start) / 1e9));
      } finally {
        await batch.close();
      }
    }
    return rates;
  } finally {
    await supervisor?.stop();
    await gearmand.stop();
    scratch.remove();
  }
}

export interface AutoscaleSection {
  readonly section: Section;
  /** Per phase, autoscale (min 1) over hand-set, medians over runs. */
  readonly ratios: readonly number[];
}

export async function supervisorAutoscaleSection(options: LibraryBenchOptions): Promise<AutoscaleSection> {
  const perSetup = new Map<string, number[][]>(kSetups.map((s) => [s.peer, kPhases.map(() => [])]));
  for (let run = 0; run < options.runs; run++) {
    // Interleaved, so a noisy minute on the shared box costs every setup alike.
    for (const setup of kSetups) {
      const rates = await runPhases(setup, run, options);
      options.progress(
        `  autoscale ${setup.peer} run ${run + 1}: ${rates.map((r, i) => `${kPhases[i]} ${Math.round(r)}/s`).join(', ')}`,
      );
      for (const [i, rate] of rates.entries()) perSetup.get(setup.peer)?.[i]?.push(rate);
    }
  }
  const drafts: SectionRowDraft[] = kPhases.flatMap((phase, i) =>
    kSetups.map((setup) => ({
      peer: `${setup.peer} ${phase}`,
      label: `${setup.label}: phase ${phase} busy`,
      side: setup.peer === 'hand-set' ? ('ideal' as const) : ('ours' as const),
      versus: setup.peer === 'hand-set' ? null : `hand-set ${phase}`,
      values: perSetup.get(setup.peer)?.[i] ?? [],
    })),
  );
  const rows = finishSectionRows(drafts, true);
  const ratios = kPhases.map(
    (phase) => rows.find((r) => r.peer === `autoscale ${phase}`)?.ratio ?? Number.NaN,
  );
  return {
    ratios,
    section: {
      key: 'autoscale',
      title: `Autoscale: two functions busy in turn, ${kPhaseJobs} x ${kJobMs} ms (sleep) jobs a phase, 2 slots' worth`,
      unit: 'jobs/s',
      higherIsBetter: true,
      columns: [],
      rows,
      notes: [
        `Ideal: 2 slots / ${kJobMs} ms = ${Math.round(2000 / kJobMs)} jobs/s. Autoscaler: ${kAutoscale} (the manifest's autoscale:).`,
        'Each phase is timed from its first submit to its last result; B starts right after A, while A still holds its slots.',
      ],
    },
  };
}
