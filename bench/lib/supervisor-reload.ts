/**
 * Hot reload under load: a `gworker start` watching its handler file, a client process
 * keeping foreground calls outstanding, and the handler file rewritten again and again
 * (each version answers `v<N>:<payload>`). Measured: the time from the write to the
 * first answer from the new code, and whether any call failed, came back wrong or never
 * came back across the reloads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGearmand } from './gearmand.js';
import { nodePeer, type Peer } from './processes.js';
import { nowNs, withTimeout } from './stats.js';
import { builtEntry } from './supervisor-build.js';
import {
  controlCounts,
  type SupervisorChild,
  scratchDir,
  startSupervisor,
  writeManifest,
} from './supervisor-process.js';
import type { Section, SectionRowDraft, WordedGoal } from './supervisor-report.js';
import { finishSectionRows } from './supervisor-report.js';
import type { LibraryBenchOptions } from './types.js';

/** Reloads per phase: a few with one call in flight (latency), many under load (safety). */
export const kQuietReloads = 7;
export const kLoadReloads = 50;
const kQuietInFlight = 1;
const kLoadInFlight = 8;
/** The supervisor's function: 4 jobs at once over 2 threads, so each reload starts 2 threads. */
const kConcurrency = 4;
const kJobsPerThread = 2;

interface ClientResult {
  readonly submitted: number;
  readonly completed: number;
  readonly failed: number;
  readonly wrong: number;
  readonly lost: number;
  readonly byVersion: Record<string, number>;
  readonly errors: string[];
}

interface PhaseResult extends ClientResult {
  readonly latenciesMs: number[];
  /** Per reload, from the write: the supervisor logging the change (after its debounce). */
  readonly seenMs: number[];
  /** Per reload, from the write: the supervisor logging the new generation as serving. */
  readonly readyMs: number[];
}

function handlerSource(version: number): string {
  return `// Written by the gworker reload bench: version ${version}.\nexport default function handler(payload) {\n  return 'v${version}:' + payload;\n}\n`;
}

/**
 * One phase: a client with `inFlight` calls out; `reloads` rewrites of the handler, each
 * after the previous version has answered. Resolves with the latencies and the client's counts.
 */
async function phase(
  supervisor: SupervisorChild,
  port: number,
  fn: string,
  handlerFile: string,
  state: { version: number },
  inFlight: number,
  reloads: number,
): Promise<PhaseResult> {
  const client: Peer = nodePeer(
    'reload client',
    'supervisor-reload-client.ts',
    [port, fn, inFlight].map(String),
  );
  try {
    await client.waitForLine(`version ${state.version} `, 30_000);
    const latenciesMs: number[] = [];
    const seenMs: number[] = [];
    const readyMs: number[] = [];
    for (let i = 0; i < reloads; i++) {
      state.version++;
      const written = nowNs();
      const writtenAt = Date.now();
      writeFileSync(handlerFile, handlerSource(state.version));
      const line = await client.waitForLine(`version ${state.version} `, 30_000);
      const served = BigInt(line.split(' ')[2] as string);
      latenciesMs.push(Number(served - written) / 1e6);
      // The supervisor's own log lines (pino's time: epoch ms) split the latency in parts.
      const seen = await supervisor.waitForLog((msg) => msg === 'handler code changed; reloading', 10_000);
      const ready = await supervisor.waitForLog((msg) => msg === 'reloaded', 10_000);
      seenMs.push(Number(seen.time) - writtenAt);
      readyMs.push(Number(ready.time) - writtenAt);
    }
    client.send('stop');
    const result = await client.waitForJson<ClientResult>('result', 30_000);
    return { ...result, latenciesMs, seenMs, readyMs };
  } finally {
    await client.stop(2000);
  }
}

interface ReloadRun {
  readonly quiet: PhaseResult;
  readonly load: PhaseResult | null;
  /** Jobs the supervisor itself counted as failed or excepted (control API). */
  readonly supervisorFailed: number;
}

/** One supervisor: the quiet phase, then (unless `quietOnly`) the phase under load. */
async function reloadOnce(
  run: number,
  options: LibraryBenchOptions,
  entry: string | undefined,
  quietOnly: boolean,
): Promise<ReloadRun> {
  const gearmand = await startGearmand();
  const scratch = scratchDir('reload');
  const fn = `sv_reload_${run}`;
  const handlerFile = join(scratch.path, 'handler.mjs');
  const state = { version: 1 };
  let supervisor: SupervisorChild | null = null;
  try {
    writeFileSync(handlerFile, handlerSource(state.version));
    const { file: manifest, controlPort } = await writeManifest(scratch.path, {
      gearmandPort: gearmand.port,
      connections: 2,
      functions: [
        {
          name: fn,
          handler: handlerFile,
          concurrency: kConcurrency,
          jobsPerThread: kJobsPerThread,
          payload: 'text',
        },
      ],
    });
    supervisor = await startSupervisor(manifest, {
      label: 'gworker start (reload)',
      profileDir: options.profileDir,
      entry,
    });
    const quiet = await phase(
      supervisor,
      gearmand.port,
      fn,
      handlerFile,
      state,
      kQuietInFlight,
      kQuietReloads,
    );
    const load = quietOnly
      ? null
      : await phase(supervisor, gearmand.port, fn, handlerFile, state, kLoadInFlight, kLoadReloads);
    const counts = (await controlCounts(controlPort)).get(fn);
    const supervisorFailed = (counts?.failed ?? 0) + (counts?.excepted ?? 0);
    const errors = [...quiet.errors, ...(load?.errors ?? [])];
    if (supervisorFailed > 0 || errors.length > 0)
      options.progress(
        `sv-reload run ${run}: ${errors.join('; ')}\n${supervisor.warnings.slice(0, 5).join('\n')}`,
      );
    return { quiet, load, supervisorFailed };
  } finally {
    await supervisor?.stop();
    await gearmand.stop();
    scratch.remove();
  }
}

/** The reload sections (latency, and what happened to every call) and the goal. */
export async function supervisorReloadSections(
  options: LibraryBenchOptions,
): Promise<{ latency: Section; safety: Section; goal: WordedGoal }> {
  const built = await builtEntry(options.progress);
  const runs: Array<ReloadRun & { load: PhaseResult }> = [];
  const builtRuns: ReloadRun[] = [];
  const med = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
  for (let run = 1; run <= options.runs; run++) {
    const result = await withTimeout(
      reloadOnce(run, options, undefined, false),
      5 * 60_000,
      `reload run ${run}`,
    );
    const load = result.load as PhaseResult;
    runs.push({ ...result, load });
    let line = `sv-reload run ${run}/${options.runs}: latency median ${med(result.quiet.latenciesMs).toFixed(0)} ms (1 in flight), ${med(load.latenciesMs).toFixed(0)} ms (8 in flight); ${load.submitted} calls during ${kLoadReloads} reloads: ${load.failed} failed, ${load.wrong} wrong, ${load.lost} lost`;
    if (built !== null) {
      const b = await withTimeout(
        reloadOnce(run, options, built, true),
        5 * 60_000,
        `reload run ${run} (built)`,
      );
      builtRuns.push(b);
      line += `; built package: ${med(b.quiet.latenciesMs).toFixed(0)} ms`;
    }
    options.progress(line);
  }
  const latencyRows: SectionRowDraft[] = [
    {
      peer: 'quiet',
      label: `handler written -> first answer from the new code, ${kQuietInFlight} call in flight`,
      side: 'ours',
      versus: null,
      values: runs.flatMap((r) => r.quiet.latenciesMs),
      metrics: { seenMs: runs.flatMap((r) => r.quiet.seenMs), readyMs: runs.flatMap((r) => r.quiet.readyMs) },
    },
    {
      peer: 'load',
      label: `the same under load, ${kLoadInFlight} calls in flight`,
      side: 'ours',
      versus: null,
      values: runs.flatMap((r) => r.load.latenciesMs),
      metrics: { seenMs: runs.flatMap((r) => r.load.seenMs), readyMs: runs.flatMap((r) => r.load.readyMs) },
    },
    ...(builtRuns.length === 0
      ? []
      : [
          {
            peer: 'built-quiet',
            label: `built package (dist/, no tsx), ${kQuietInFlight} call in flight`,
            side: 'ours' as const,
            versus: null,
            values: builtRuns.flatMap((r) => r.quiet.latenciesMs),
            metrics: {
              seenMs: builtRuns.flatMap((r) => r.quiet.seenMs),
              readyMs: builtRuns.flatMap((r) => r.quiet.readyMs),
            },
          },
        ]),
  ];
  const count = (key: keyof Pick<ClientResult, 'submitted' | 'completed' | 'failed' | 'wrong' | 'lost'>) =>
    runs.map((r) => r.load[key]);
  const safetyRows: SectionRowDraft[] = [
    { peer: 'submitted', label: 'calls submitted', side: 'ours', versus: null, values: count('submitted') },
    {
      peer: 'completed',
      label: 'answered by the old or the new code, correctly',
      side: 'ours',
      versus: 'submitted',
      values: count('completed'),
    },
    {
      peer: 'failed',
      label: 'failed (WORK_FAIL, WORK_EXCEPTION, error)',
      side: 'ours',
      versus: null,
      values: count('failed'),
    },
    { peer: 'wrong', label: 'wrong answer', side: 'ours', versus: null, values: count('wrong') },
    {
      peer: 'lost',
      label: 'lost (no answer 15 s after the load stopped)',
      side: 'ours',
      versus: null,
      values: count('lost'),
    },
    {
      peer: 'supervisor-failed',
      label: 'failed as counted by the supervisor (control API)',
      side: 'ours',
      versus: null,
      values: runs.map((r) => r.supervisorFailed),
    },
  ];
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const submitted = sum(count('submitted'));
  const completed = sum(count('completed'));
  const bad = sum(count('failed')) + sum(count('wrong')) + sum(count('lost'));
  const failed = sum(count('failed')) + sum(count('wrong'));
  const lost = sum(count('lost'));
  const ratioDone = submitted > 0 ? completed / submitted : Number.NaN;
  const goal: WordedGoal = {
    text: `reload: ${kLoadReloads} reloads under load (x${runs.length} runs), 0 failed and 0 lost`,
    ours: 'calls answered correctly',
    reference: 'calls submitted',
    oursMedian: completed,
    referenceMedian: submitted,
    ratio: ratioDone,
    met: submitted > 0 && bad === 0,
    figures: `${failed} failed, ${lost} lost of ${submitted.toLocaleString('en-US')} calls (${completed.toLocaleString('en-US')} answered correctly)`,
  };
  return {
    goal,
    latency: {
      key: 'reload-latency',
      title: 'Hot reload: handler file written -> first job answered by the new code',
      unit: 'ms',
      higherIsBetter: false,
      columns: [
        { key: 'seenMs', header: 'change logged ms (median)' },
        { key: 'readyMs', header: 'new threads serving ms (median)' },
      ],
      rows: finishSectionRows(latencyRows, false),
      notes: [
        `${kQuietReloads} reloads with ${kQuietInFlight} call in flight, then ${kLoadReloads} with ${kLoadInFlight}, per run; every reload is a sample;`,
        `function: concurrency ${kConcurrency}, jobsPerThread ${kJobsPerThread} (2 fresh threads per reload); the watcher debounces changes for 150 ms;`,
        'checkout rows run bin/gworker.js (TypeScript through tsx, in every fresh thread too); the built row runs the compiled package;',
        'timed from just before the write (harness) to the client reading the first answer of the new version (same monotonic clock);',
        'the parts, from the supervisor\'s log: "handler code changed" (watcher + debounce), "reloaded" (fresh threads loaded and checked, routing swapped)',
      ],
    },
    safety: {
      key: 'reload-safety',
      title: `Hot reload: every call during ${kLoadReloads} reloads under steady foreground load (${kLoadInFlight} in flight)`,
      unit: 'calls',
      higherIsBetter: false,
      chart: false,
      columns: [],
      rows: finishSectionRows(safetyRows, false),
      notes: [
        'one value per run; each answer is checked to be v<N>:<its payload> for some version N;',
        'lost: calls with no answer 15 s after the client stopped submitting',
      ],
    },
  };
}
