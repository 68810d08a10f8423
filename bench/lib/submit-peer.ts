/**
 * Bench child: our Client submitting background jobs, alone in its process.
 *
 *   node --import tsx bench/lib/submit-peer.ts PORT WARM_FN MAIN_FN COUNT WARM_COUNT WINDOW PAYLOAD
 *
 * WINDOW 0 calls submitBackground() COUNT times at once and awaits all the promises (the
 * client holds back what the socket does not take: see ServerLink's backlog); WINDOW N
 * awaits client.drained() after every N submits, as a producer bounding its memory would.
 * WARM_COUNT jobs of WARM_FN go first, untimed, after connect().
 * Prints `result {"ns":N,"count":N,"cpuUs":N}` for the timed part (cpuUs: user + system
 * CPU time of this process).
 */
import { Client } from '../../src/client/client.js';
import { startProfile } from './profiler.js';

const [port, warmFn, mainFn, countArg, warmArg, windowArg, payload] = process.argv.slice(2);
if (payload === undefined || warmFn === undefined || mainFn === undefined) {
  throw new Error('usage: submit-peer.ts PORT WARM_FN MAIN_FN COUNT WARM_COUNT WINDOW PAYLOAD');
}
const count = Number(countArg);
const window = Number(windowArg);

const client = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false });

async function submit(fn: string, n: number): Promise<void> {
  const handles: Promise<string>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    handles[i] = client.submitBackground(fn, payload as string);
    if (window > 0 && (i + 1) % window === 0) await client.drained();
  }
  await Promise.all(handles);
}

await client.connect();
await submit(warmFn, Number(warmArg));
const stopProfile = await startProfile('submit-client');
const cpu = process.cpuUsage();
const start = process.hrtime.bigint();
await submit(mainFn, count);
const ns = process.hrtime.bigint() - start;
const { user, system } = process.cpuUsage(cpu);
await stopProfile();
await client.close();
console.log(`result ${JSON.stringify({ ns: Number(ns), count, cpuUs: user + system })}`);
