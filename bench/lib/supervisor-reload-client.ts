/**
 * Bench child: steady foreground load for the reload bench, with our Client, alone in
 * its process.
 *
 *   node --import tsx bench/lib/supervisor-reload-client.ts PORT FN IN_FLIGHT
 *
 * Keeps IN_FLIGHT foreground calls of FN outstanding, each with its own sequence number
 * as payload, and checks each answer is `v<version>:<payload>` (the bench's handler
 * file, rewritten at every reload). The first time an answer shows a version, it prints
 * `version <N> <monotonic ns>`. On stdin `stop` (or EOF) it stops submitting, waits up to
 * 15 s for the calls still out, and prints
 * `result {"submitted","completed","failed","wrong","lost","byVersion","errors"}`:
 * failed = the call rejected (WORK_FAIL, WORK_EXCEPTION, an error), wrong = an answer
 * that is not what the handler returns, lost = no answer at all.
 */
import { createInterface } from 'node:readline';
import { Client } from '../../src/client/client.js';

const [port, fn, inFlightArg] = process.argv.slice(2);
if (port === undefined || fn === undefined || inFlightArg === undefined) {
  throw new Error('usage: supervisor-reload-client.ts PORT FN IN_FLIGHT');
}
const inFlight = Number(inFlightArg);
const kDrainMs = 15_000;

const client = new Client({ servers: [`127.0.0.1:${port}`] });
const counts = { submitted: 0, completed: 0, failed: 0, wrong: 0 };
const byVersion = new Map<number, number>();
const errors: string[] = [];
const outstanding = new Set<Promise<void>>();
let stopping = false;
let seq = 0;

function onAnswer(payload: string, answer: string): void {
  const match = /^v(\d+):(.*)$/s.exec(answer);
  if (match === null || match[2] !== payload) {
    counts.wrong++;
    if (errors.length < 5) errors.push(`wrong answer to ${payload}: ${answer.slice(0, 60)}`);
    return;
  }
  counts.completed++;
  const version = Number(match[1]);
  const seen = byVersion.get(version);
  if (seen === undefined) console.log(`version ${version} ${process.hrtime.bigint()}`);
  byVersion.set(version, (seen ?? 0) + 1);
}

function call(): void {
  const payload = String(++seq);
  counts.submitted++;
  const done = client.run(fn as string, payload).then(
    (answer) => onAnswer(payload, answer.toString('utf8')),
    (err: Error) => {
      counts.failed++;
      if (errors.length < 5) errors.push(`${payload}: ${err.message}`);
    },
  );
  const tracked = done.finally(() => {
    outstanding.delete(tracked);
    if (!stopping) call();
  });
  outstanding.add(tracked);
}

await client.connect();
for (let i = 0; i < inFlight; i++) call();

const lines = createInterface({ input: process.stdin });
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  lines.close();
  const left = [...outstanding];
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(left),
    new Promise((resolve) => {
      timer = setTimeout(resolve, kDrainMs);
    }),
  ]);
  clearTimeout(timer);
  const lost = outstanding.size;
  console.log(
    `result ${JSON.stringify({ ...counts, lost, byVersion: Object.fromEntries(byVersion), errors })}`,
  );
  // Calls still out keep the client from closing cleanly: give it a second, no more.
  await Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 1000))]);
  process.exit(0);
}
lines.on('line', (line) => {
  if (line.trim() === 'stop') void stop();
});
lines.on('close', () => void stop());
