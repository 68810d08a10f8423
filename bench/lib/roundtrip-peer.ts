/**
 * Bench child: our Client making sequential foreground calls, alone in its process.
 *
 *   node --import tsx bench/lib/roundtrip-peer.ts PORT WARM_FN MAIN_FN COUNT WARM_COUNT PAYLOAD
 *
 * WARM_COUNT calls to WARM_FN first (untimed, after connect()), then COUNT timed calls to
 * MAIN_FN, one at a time, each checked to echo the payload back.
 * Prints `result {"ns":N,"count":N,"cpuUs":N,"meanUs":F,"p50Us":F,"p99Us":F}` for the timed
 * part (cpuUs: user + system CPU time of this process).
 */
import { Client } from '../../src/client/client.js';
import { startProfile } from './profiler.js';

const [port, warmFn, mainFn, countArg, warmArg, payload] = process.argv.slice(2);
if (payload === undefined || warmFn === undefined || mainFn === undefined) {
  throw new Error('usage: roundtrip-peer.ts PORT WARM_FN MAIN_FN COUNT WARM_COUNT PAYLOAD');
}
const count = Number(countArg);
const expected = Buffer.from(payload);

const client = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false });

async function call(fn: string): Promise<void> {
  const result = await client.run(fn, payload as string);
  if (!result.equals(expected)) throw new Error(`${fn} returned ${JSON.stringify(result.toString())}`);
}

await client.connect();
for (let i = 0, n = Number(warmArg); i < n; i++) await call(warmFn);
const latencies = new Float64Array(count);
const stopProfile = await startProfile('roundtrip-client');
const cpu = process.cpuUsage();
const start = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  const t = process.hrtime.bigint();
  await call(mainFn);
  latencies[i] = Number(process.hrtime.bigint() - t) / 1000;
}
const ns = Number(process.hrtime.bigint() - start);
const { user, system } = process.cpuUsage(cpu);
await stopProfile();
await client.close();
latencies.sort();
const rank = (q: number): number =>
  latencies[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))] as number;
let sum = 0;
for (const value of latencies) sum += value;
console.log(
  `result ${JSON.stringify({ ns, count, cpuUs: user + system, meanUs: sum / count, p50Us: rank(0.5), p99Us: rank(0.99) })}`,
);
