/**
 * Runs only the isolation: process rows of the supervisor bench, once each (a check that
 * they work, not a measurement): `npx tsx bench/check-process-rows.ts`.
 */
import { calibrateNode, kCpuWorkloads, supervisorRun } from './lib/supervisor-cpu.js';
import { drainOnce } from './lib/supervisor-drain.js';
import type { LibraryBenchOptions } from './lib/types.js';
import { kSupervisorDrainSettings } from './supervisor.bench.js';

const options: LibraryBenchOptions = {
  runs: 1,
  jobs: 5_000,
  calls: 0,
  warmup: 1_000,
  drainSettings: [],
  runTimeoutMs: 60_000,
  progress: (line) => process.stderr.write(`${line}\n`),
};
const drain = await drainOnce('supervisor-process', 1, kSupervisorDrainSettings, options);
process.stdout.write(
  `drain, isolation: process: ${Math.round(drain.rate)} jobs/s, ${drain.cpuUsPerJob.toFixed(1)} us CPU/job\n`,
);
const node = await calibrateNode(kCpuWorkloads.mix);
const cpu = await supervisorRun(kCpuWorkloads.mix, 1, node, options, 0, 'process');
process.stdout.write(
  `cpu (mix), isolation: process: ${Math.round(cpu.wallMs)} ms wall, ideal ${Math.round(cpu.idealMs)} ms (${((100 * cpu.idealMs) / cpu.wallMs).toFixed(1)}%)\n`,
);
