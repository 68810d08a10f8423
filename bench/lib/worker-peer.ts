/**
 * Bench child: ONE Node process running our Worker, echoing the workload back.
 *
 *   node --import tsx bench/lib/worker-peer.ts PORT WARM_FN MAIN_FN MAX_JOBS CONNECTIONS
 *
 * Speaks the same line protocol as bench/peers/worker.php: prints `ready` once connected
 * with WARM_FN registered; on stdin `go` registers MAIN_FN and prints `go <monotonic ns>`;
 * on `stop` or EOF closes the worker and prints `done {"warm":N,"main":N}`.
 * It runs alone in its process, so nothing else competes with it for the event loop.
 */
import { createInterface } from 'node:readline';
import type { Job } from '../../src/worker/job.js';
import { Worker } from '../../src/worker/worker.js';

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
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  lines.close();
  process.stdin.destroy();
  await worker.close({ timeoutMs: 2000 });
  console.log(`done ${JSON.stringify(counts)}`);
}

lines.on('line', (line) => {
  const command = line.trim();
  if (command === 'go') {
    worker.register(mainFn, (job: Job) => {
      counts.main++;
      return job.payload;
    });
    console.log(`go ${process.hrtime.bigint()}`);
  } else if (command === 'stop') {
    void stop();
  }
});
lines.on('close', () => void stop());
