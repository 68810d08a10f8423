/**
 * Bench child: ONE Node process running our Worker, echoing the workload back.
 *
 *   node --import tsx bench/lib/worker-peer.ts PORT WARM_FN MAIN_FN MAX_JOBS CONNECTIONS
 *
 * Speaks the same line protocol as bench/peers/worker.php: prints `ready` once connected
 * with WARM_FN registered; on stdin `go` registers MAIN_FN and prints `go <monotonic ns>`;
 * on `stop` or EOF closes the worker and prints `done {"warm":N,"main":N,"jobs":N,"cpuUs":N}`,
 * where jobs and cpuUs (user + system CPU time of the process) count from `go` on.
 * It runs alone in its process, so nothing else competes with it for the event loop.
 */
import { createInterface } from 'node:readline';
import type { Job } from '../../src/worker/job.js';
import { Worker } from '../../src/worker/worker.js';
import { startProfile } from './profiler.js';

const [port, warmFn, mainFn, maxJobs, connections] = process.argv.slice(2);
if (connections === undefined || warmFn === undefined || mainFn === undefined) {
  throw new Error('usage: worker-peer.ts PORT WARM_FN MAIN_FN MAX_JOBS CONNECTIONS');
}

const counts = { warm: 0, main: 0 };
const worker = new Worker({
  servers: [`127.0.0.1:${port}`],
  maxJobs: Number(maxJobs),
  connectionsPerServer: Number(connections),
  reconnect: false,
});
worker.on('error', (err) => console.error(`worker error: ${err.message}`));
worker.register(warmFn, (job: Job) => {
  counts.warm++;
  return job.payload;
});
await worker.start();
console.log('ready');

const lines = createInterface({ input: process.stdin });
let stopProfile = async (): Promise<void> => {};
let atGo: { cpu: NodeJS.CpuUsage; jobs: number } | null = null;
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  lines.close();
  process.stdin.destroy();
  const cpu = atGo === null ? null : process.cpuUsage(atGo.cpu);
  const jobs = atGo === null ? 0 : counts.warm + counts.main - atGo.jobs;
  await stopProfile();
  await worker.close({ timeoutMs: 2000 });
  console.log(`done ${JSON.stringify({ ...counts, jobs, cpuUs: cpu === null ? 0 : cpu.user + cpu.system })}`);
}

const go = async (): Promise<void> => {
  stopProfile = await startProfile('worker');
  atGo = { cpu: process.cpuUsage(), jobs: counts.warm + counts.main };
  worker.register(mainFn, (job: Job) => {
    counts.main++;
    return job.payload;
  });
  console.log(`go ${process.hrtime.bigint()}`);
};

lines.on('line', (line) => {
  const command = line.trim();
  if (command === 'go') void go();
  else if (command === 'stop') void stop();
});
lines.on('close', () => void stop());
