/**
 * The supervisor's memory: resident set size (VmRSS of the `gworker start` process, all
 * its threads) idle after start, and while 8 handler threads are busy (concurrency 8 of
 * a handler that spins ~200 ms per job); both as the checkout runs it (through tsx) and
 * as the built package does. One idle PHP worker process for scale.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/client/client.js';
import { startGearmand } from './gearmand.js';
import { phpPeer } from './processes.js';
import { median, sleep, withTimeout } from './stats.js';
import { builtEntry } from './supervisor-build.js';
import {
  controlCounts,
  rssKiB,
  type SupervisorChild,
  scratchDir,
  startSupervisor,
  writeManifest,
} from './supervisor-process.js';
import { finishSectionRows, type Section, type SectionRowDraft } from './supervisor-report.js';
import { StatusPoller } from './supervisor-watch.js';
import type { LibraryBenchOptions } from './types.js';

const kSpinHandler = fileURLToPath(new URL('../fixtures/spin-handler.mjs', import.meta.url));
const kThreads = 8;
const kSpinMs = 200;
/** Three waves of 8 jobs: about 600 ms with every thread busy. */
const kJobs = kThreads * 3;
const kSettleMs = 1000;

interface SupervisorMemory {
  readonly idleMiB: number;
  readonly busyMiB: number;
  /** Handler threads the control API reported (the pool is started whole). */
  readonly threads: number;
  /** OS threads of the process while idle (/proc/PID/task): V8 helpers, libuv, loaders too. */
  readonly osThreads: number;
}

/** Median of a few readings over ~200 ms. */
async function steadyRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await sleep(40);
  }
  return median(samples) / 1024;
}

function osThreads(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return Number.NaN;
  }
}

/** One supervisor (checkout or built entry): RSS idle after start, then the peak with every thread busy. */
async function supervisorMemory(
  run: number,
  entry: string | undefined,
  options: LibraryBenchOptions,
): Promise<SupervisorMemory> {
  const gearmand = await startGearmand();
  const poller = new StatusPoller(gearmand.port);
  const scratch = scratchDir('memory');
  const fn = `sv_spin_${run}`;
  let supervisor: SupervisorChild | null = null;
  try {
    const { file: manifest, controlPort } = await writeManifest(scratch.path, {
      gearmandPort: gearmand.port,
      connections: 2,
      functions: [
        { name: fn, handler: kSpinHandler, concurrency: kThreads, jobsPerThread: 1, payload: 'text' },
      ],
    });
    supervisor = await startSupervisor(manifest, {
      label: 'gworker start (memory)',
      profileDir: options.profileDir,
      entry,
    });
    await sleep(kSettleMs);
    const idleMiB = await steadyRss(supervisor.pid);
    const idleThreads = osThreads(supervisor.pid);
    const threads = (await controlCounts(controlPort)).get(fn)?.threads ?? Number.NaN;

    const client = new Client({ servers: [`127.0.0.1:${gearmand.port}`], reconnect: false });
    try {
      await Promise.all(Array.from({ length: kJobs }, () => client.submitBackground(fn, String(kSpinMs))));
    } finally {
      await client.close();
    }
    await poller.until(fn, (c) => c.running >= kThreads, 30_000, `${kThreads} jobs running`);
    let busyKiB = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const count = await poller.count(fn);
      if (count.total === 0) break;
      if (count.running >= kThreads) busyKiB = Math.max(busyKiB, rssKiB(supervisor.pid));
      if (Date.now() > deadline) throw new Error('the spin jobs did not finish within 60 s');
      await sleep(20);
    }
    const counts = (await controlCounts(controlPort)).get(fn);
    if (counts?.done !== kJobs)
      throw new Error(`gworker start completed ${counts?.done ?? 0} of ${kJobs} spin jobs`);
    return { idleMiB, busyMiB: busyKiB / 1024, threads, osThreads: idleThreads };
  } finally {
    await supervisor?.stop();
    await poller.close();
    await gearmand.stop();
    scratch.remove();
  }
}

/** One idle PHP worker process, for scale. */
async function phpIdleMiB(run: number): Promise<number> {
  const gearmand = await startGearmand();
  const php = phpPeer('PHP worker (idle)', 'worker.php', [
    String(gearmand.port),
    `php_idle_${run}`,
    'unused',
  ]);
  try {
    await php.waitForLine('ready', 30_000);
    await sleep(kSettleMs);
    return await steadyRss(php.child.pid ?? -1);
  } finally {
    await php.stop(1000);
    await gearmand.stop();
  }
}

export async function supervisorMemorySection(options: LibraryBenchOptions): Promise<Section> {
  const built = await builtEntry(options.progress);
  const checkout: SupervisorMemory[] = [];
  const installed: SupervisorMemory[] = [];
  const php: number[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const a = await withTimeout(supervisorMemory(run, undefined, options), 3 * 60_000, `memory run ${run}`);
    checkout.push(a);
    let line = `sv-mem   run ${run}/${options.runs}: checkout idle ${a.idleMiB.toFixed(1)} MiB (${a.threads} handler threads, ${a.osThreads} OS threads), busy ${a.busyMiB.toFixed(1)} MiB`;
    if (built !== null) {
      const b = await withTimeout(
        supervisorMemory(run, built, options),
        3 * 60_000,
        `memory run ${run} (built)`,
      );
      installed.push(b);
      line += `; built idle ${b.idleMiB.toFixed(1)} MiB (${b.osThreads} OS threads), busy ${b.busyMiB.toFixed(1)} MiB`;
    }
    php.push(await withTimeout(phpIdleMiB(run), 60_000, `php memory run ${run}`));
    options.progress(`${line}; PHP worker idle ${(php.at(-1) ?? Number.NaN).toFixed(1)} MiB`);
  }
  const rows = (runs: SupervisorMemory[], key: string, how: string): SectionRowDraft[] =>
    runs.length === 0
      ? []
      : [
          {
            peer: `${key}-idle`,
            label: `gworker start ${how}, idle ${kSettleMs / 1000} s after start (up to ${kThreads} handler threads; the load check's one started)`,
            side: 'ours',
            versus: null,
            values: runs.map((r) => r.idleMiB),
            metrics: { osThreads: runs.map((r) => r.osThreads) },
          },
          {
            peer: `${key}-busy`,
            label: `gworker start ${how}, ${kThreads} threads busy (peak, ${kSpinMs} ms spins)`,
            side: 'ours',
            versus: `${key}-idle`,
            values: runs.map((r) => r.busyMiB),
          },
        ];
  return {
    key: 'memory',
    title: 'Memory: resident set size of the gworker start process (all threads)',
    unit: 'MiB',
    higherIsBetter: false,
    digits: 1,
    columns: [{ key: 'osThreads', header: 'OS threads idle' }],
    rows: finishSectionRows(
      [
        ...rows(checkout, 'checkout', '(checkout: bin/gworker.js, tsx)'),
        ...rows(installed, 'built', '(built package: dist/, no tsx)'),
        {
          peer: 'php-idle',
          label: 'for scale: one idle PHP pecl worker process',
          side: 'php',
          versus: null,
          values: php,
        },
      ],
      false,
    ),
    notes: [
      'VmRSS from /proc/PID/status: the process with its handler threads (each a V8 isolate with its own heap);',
      `manifest: one function, concurrency ${kThreads}, jobsPerThread 1, control API on; handler bench/fixtures/spin-handler.mjs;`,
      'checkout: each handler thread loads its entry through tsx, with a module-loader thread of its own; the built package loads plain JS;',
      'a PHP worker runs one job at a time: 8 at once means 8 such processes',
    ],
  };
}
