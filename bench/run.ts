/**
 * `npm run bench`: runs every bench (or those named with --only), prints a table per
 * bench and a summary of the goals, and writes bench/results/latest.json.
 *
 *   npm run bench -- [--only NAME[,NAME]] [--runs N] [--jobs N] [--calls N]
 *                    [--drain-settings 32x2[,64x1...]] [--profile DIR] [--json FILE]
 *
 * Benches: protocol (codec micro-bench, in this process: it is pure CPU work with nothing
 * else on the event loop), drain, submit, roundtrip (each measured side in its own
 * process; see library.bench.ts), supervisor (`gworker start`; supervisor.bench.ts),
 * supervisor-autoscale (its autoscale row alone) and server (`gworker server` vs
 * gearmand; server.bench.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gearmandVersion, missingPeers } from './lib/gearmand.js';
import { installExitHooks, killAll, kRepoRoot } from './lib/processes.js';
import { kRoundTripPeers } from './lib/roundtrip.js';
import { fmtInt, fmtRatio } from './lib/table.js';
import {
  type BenchResult,
  formatLibraryBench,
  type Goal,
  kLibraryDefaults,
  type LibraryBenchOptions,
  libraryBenches,
  type WorkerSettings,
} from './library.bench.js';
import { formatProtocolBench, type Row as ProtocolRow, runProtocolBench } from './protocol.bench.js';
import { formatServerBench, runServerBench } from './server.bench.js';
import {
  formatSupervisorBench,
  runSupervisorAutoscaleBench,
  runSupervisorBench,
  runSupervisorDefaultBench,
  runSupervisorIdleBench,
} from './supervisor.bench.js';

/** Benches with tables of their own (sections) and goals worded by themselves. */
const kRuntimeBenches = {
  supervisor: { run: runSupervisorBench, format: formatSupervisorBench },
  // Part of `supervisor`; by itself only when named, so a full run measures it once.
  'supervisor-default': { run: runSupervisorDefaultBench, format: formatSupervisorBench },
  // One row of the supervisor bench alone (issue 15's autoscale goal).
  'supervisor-autoscale': { run: runSupervisorAutoscaleBench, format: formatSupervisorBench },
  // The threads-on-demand row alone (issue 15's idle memory and start-up goals).
  'supervisor-idle': { run: runSupervisorIdleBench, format: formatSupervisorBench },
  server: { run: runServerBench, format: formatServerBench },
} as const;

type RuntimeBenchName = keyof typeof kRuntimeBenches;
const kBenchNames = ['protocol', ...Object.keys(libraryBenches), 'supervisor', 'server'];
/** Accepted by --only, not run by default: supervisor-default, -autoscale and -idle are parts of supervisor. */
const kKnownNames = [...kBenchNames, 'supervisor-default', 'supervisor-autoscale', 'supervisor-idle'];

const kUsage = `usage: npm run bench -- [options]

Runs the benches and prints one table each, then which goals are met.
Results also go to bench/results/latest.json.

options:
      --only NAME[,NAME]       run only these: ${kBenchNames.join(', ')} (default: all);
                               supervisor-default: only the supervisor's default-manifest rows;
                               supervisor-autoscale, supervisor-idle: only that row of it
      --runs N                 timed runs per peer and case (default ${kLibraryDefaults.runs})
      --jobs N                 jobs per drain/submit run, supervisor and server too (default ${kLibraryDefaults.jobs})
      --calls N                sequential calls per round-trip run, server too (default ${kLibraryDefaults.calls})
      --warmup N               untimed warm-up jobs or calls per run, the same on every side
                               (default: as many as the timed part; 0 measures cold starts)
      --pairs LIST             round-trip pairs to run besides PHP + PHP, e.g. gworker
                               (default: all of ${kRoundTripPeers.join(', ')})
      --drain-settings LIST    our worker's maxJobs x connectionsPerServer for the drain,
                               one row each, e.g. 16x1,32x2,64x2 (default ${kLibraryDefaults.drainSettings.map((s) => `${s.maxJobs}x${s.connections}`).join(',')})
      --timeout SECONDS        fail a run that takes longer (default ${kLibraryDefaults.runTimeoutMs / 1000})
      --profile DIR            write --cpu-prof profiles of our Node children to DIR
      --json FILE              where to write the results (default bench/results/latest.json)
  -h, --help                   print this help
`;

function positiveInt(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return n;
}

function nonNegativeInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  return n;
}

function parseSettings(value: string | undefined): WorkerSettings[] {
  if (value === undefined) return [...kLibraryDefaults.drainSettings];
  return value.split(',').map((item) => {
    const match = /^(\d+)x(\d+)$/.exec(item.trim());
    if (match === null)
      throw new RangeError(`--drain-settings wants MAXJOBSxCONNECTIONS items, got "${item}"`);
    const settings = { maxJobs: Number(match[1]), connections: Number(match[2]) };
    if (settings.maxJobs < 1 || settings.connections < 1)
      throw new RangeError(`"${item}": both must be >= 1`);
    return settings;
  });
}

function parsePairs(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const pairs = value.split(',').map((item) => item.trim());
  const unknown = pairs.filter((pair) => !kRoundTripPeers.includes(pair));
  if (unknown.length > 0)
    throw new RangeError(
      `unknown round-trip pair ${unknown.join(', ')}; known: ${kRoundTripPeers.join(', ')}`,
    );
  return pairs;
}

/** `MET`, `NOT MET` or `NOT MEASURED`, and a remark when the gap is within run-to-run noise. */
function verdict(goal: Goal): { word: string; remark: string } {
  if (!Number.isFinite(goal.ratio)) return { word: 'NOT MEASURED', remark: '' };
  if (goal.met) return { word: 'MET', remark: '' };
  // Runs on a shared 2-core machine differ by more than this from one to the next.
  return { word: 'NOT MET', remark: goal.ratio >= 0.95 ? ' (within 5%: noise level here)' : '' };
}

/**
 * Biome checks every file under bench/ (`npm run lint` is `biome check .`, and biome.json
 * does not read .gitignore), and its JSON layout is not JSON.stringify's: a results file
 * left as written would fail the lint of anyone who ran the bench. So it is formatted with
 * the repository's own biome, when there is one; a file outside the repository is left
 * alone, and a failure here only costs the layout.
 */
function formatLikeTheRepo(path: string): void {
  const biome = `${kRepoRoot}node_modules/.bin/biome`;
  if (!path.startsWith(kRepoRoot) || !existsSync(biome)) return;
  try {
    execFileSync(biome, ['format', '--write', path], { cwd: kRepoRoot, stdio: 'ignore', timeout: 30_000 });
  } catch {
    // Left as JSON.stringify wrote it: still valid JSON.
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      runs: { type: 'string' },
      jobs: { type: 'string' },
      calls: { type: 'string' },
      warmup: { type: 'string' },
      'drain-settings': { type: 'string' },
      pairs: { type: 'string' },
      timeout: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(kUsage);
    return 0;
  }
  const only = values.only === undefined ? kBenchNames : values.only.split(',').map((name) => name.trim());
  const unknown = only.filter((name) => !kKnownNames.includes(name));
  if (unknown.length > 0)
    throw new RangeError(`unknown bench ${unknown.join(', ')}; known: ${kKnownNames.join(', ')}`);
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const options: LibraryBenchOptions = {
    runs: positiveInt(values.runs, kLibraryDefaults.runs, '--runs'),
    jobs: positiveInt(values.jobs, kLibraryDefaults.jobs, '--jobs'),
    calls: positiveInt(values.calls, kLibraryDefaults.calls, '--calls'),
    warmup: values.warmup === undefined ? undefined : nonNegativeInt(values.warmup, '--warmup'),
    drainSettings: parseSettings(values['drain-settings']),
    roundtripPairs: parsePairs(values.pairs),
    runTimeoutMs: positiveInt(values.timeout, kLibraryDefaults.runTimeoutMs / 1000, '--timeout') * 1000,
    profileDir,
    progress: (line) => process.stderr.write(`  ${line}\n`),
  };
  const jsonPath = resolve(values.json ?? `${kRepoRoot}bench/results/latest.json`);

  installExitHooks();
  const startLoad = loadavg();
  const cpu = cpus();
  console.log(
    `gworker bench: Node ${process.version}, gearmand ${gearmandVersion()}, ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, load average ${startLoad.map((n) => n.toFixed(2)).join(' ')}`,
  );
  console.log('');

  let protocolRows: ProtocolRow[] | undefined;
  const results: BenchResult[] = [];
  const failures: Array<{ bench: string; error: string }> = [];
  const missing = only.some((name) => name !== 'protocol') ? missingPeers() : [];

  for (const name of only) {
    try {
      if (name === 'protocol') {
        process.stderr.write('  protocol codec micro-bench...\n');
        protocolRows = await runProtocolBench({ runs: options.runs });
        console.log(
          `Protocol codec micro-bench, in-process (${options.runs} runs per case; min = slowest run)`,
        );
        console.log(formatProtocolBench(protocolRows));
        console.log('');
        continue;
      }
      if (missing.length > 0) throw new Error(`needs ${missing.join(', ')}, which is not installed`);
      if (name in kRuntimeBenches) {
        const bench = kRuntimeBenches[name as RuntimeBenchName];
        const result = await bench.run(options);
        results.push(result);
        console.log(bench.format(result));
        console.log('');
        continue;
      }
      const run = libraryBenches[name];
      if (run === undefined) continue;
      const result = await run(options);
      results.push(result);
      console.log(formatLibraryBench(result));
      console.log('');
    } catch (err) {
      await killAll();
      const message = err instanceof Error ? err.message : String(err);
      failures.push({ bench: name, error: message });
      console.log(`${name}: FAILED: ${message}`);
      console.log('');
    }
  }

  const goals = results.flatMap((result) => result.goals);
  if (goals.length > 0 || failures.length > 0) {
    console.log('Summary (medians):');
    for (const goal of goals) {
      const { word, remark } = verdict(goal);
      // Goals that are not "ours / reference >= 1" word their own figures (supervisor, server).
      const worded = (goal as Goal & { figures?: string }).figures;
      const figures = `${fmtRatio(goal.ratio)} (${fmtInt(goal.oursMedian)} vs ${fmtInt(goal.referenceMedian)}/s)`;
      if (worded !== undefined)
        console.log(`  ${(goal.met ? 'MET' : 'NOT MET').padEnd(8)} ${goal.text}: ${worded}`);
      else console.log(`  ${word.padEnd(8)} ${goal.text}: ${figures}${remark}`);
    }
    for (const failure of failures)
      console.log(`  FAILED   ${failure.bench}: ${failure.error.split('\n')[0]}`);
  }
  const endLoad = loadavg();
  console.log(`load average at the end: ${endLoad.map((n) => n.toFixed(2)).join(' ')}`);

  mkdirSync(dirname(jsonPath), { recursive: true });
  const { progress: _progress, ...recorded } = options;
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        node: process.version,
        gearmand: gearmandVersion(),
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? null,
        loadAverage: { start: startLoad, end: endLoad },
        options: recorded,
        protocol: protocolRows ?? null,
        benches: Object.fromEntries(results.map((result) => [result.name, result])),
        goals,
        failures,
      },
      (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
      2,
    )}\n`,
  );
  formatLikeTheRepo(jsonPath);
  console.log(`results written to ${jsonPath}`);
  return failures.length > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  await killAll();
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
}
