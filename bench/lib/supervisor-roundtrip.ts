/**
 * Foreground round trip through `gworker start` (issue 13 goal 2): the PHP client
 * (bench/peers/roundtrip.php, doNormal in a loop) through a fresh gearmand, served by
 * one PHP worker process or by `gworker start` with one function at concurrency 1 and
 * every other setting (connections too) at its default. The same client on both sides, so the difference
 * is the worker: for the supervisor, socket -> main thread -> handler thread and back.
 */
import { startGearmand } from './gearmand.js';
import { type Peer, phpPeer } from './processes.js';
import { withTimeout } from './stats.js';
import { kEchoHandler } from './supervisor-drain.js';
import {
  controlCounts,
  type SupervisorChild,
  scratchDir,
  startSupervisor,
  writeManifest,
} from './supervisor-process.js';
import { finishSectionRows, type Section } from './supervisor-report.js';
import { totalCpuUs } from './supervisor-watch.js';
import type { LibraryBenchOptions } from './types.js';

const kPayload = 'roundtrip-pay-16';

/** supervisor-thread: the same with dispatch: thread (its thread owns the connection). */
type Kind = 'php' | 'supervisor' | 'supervisor-thread';

/** What roundtrip.php prints, plus the worker process's CPU per job (warm-up included). */
interface Run {
  readonly ns: number;
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly workerCpuUs: number;
}

async function roundTripOnce(kind: Kind, run: number, options: LibraryBenchOptions): Promise<Run> {
  const gearmand = await startGearmand();
  const scratch = scratchDir('roundtrip');
  // One function for the warm-up and the timed calls: the supervisor serves it from one
  // thread, the PHP worker from its one registration.
  const fn = `sv_rt_${run}`;
  const warm = options.warmup ?? options.calls;
  let worker: Peer | null = null;
  let supervisor: SupervisorChild | null = null;
  let client: Peer | null = null;
  try {
    let pid: number;
    let controlPort = 0;
    if (kind === 'supervisor' || kind === 'supervisor-thread') {
      const written = await writeManifest(scratch.path, {
        gearmandPort: gearmand.port,
        functions: [
          {
            name: fn,
            handler: kEchoHandler,
            concurrency: 1,
            ...(kind === 'supervisor-thread' ? { dispatch: 'thread' as const } : {}),
          },
        ],
      });
      controlPort = written.controlPort;
      supervisor = await startSupervisor(written.file, {
        label: 'gworker start',
        profileDir: options.profileDir,
        watch: false,
      });
      pid = supervisor.pid;
    } else {
      // Its second function is never registered: no `go` is sent.
      worker = phpPeer('PHP worker', 'worker.php', [String(gearmand.port), fn, `${fn}_unused`]);
      await worker.waitForLine('ready', 30_000);
      pid = worker.child.pid ?? -1;
    }
    const cpuStart = totalCpuUs([pid]);
    client = phpPeer('PHP client', 'roundtrip.php', [
      String(gearmand.port),
      fn,
      fn,
      String(options.calls),
      String(warm),
      kPayload,
    ]);
    const result = await client.waitForJson<Omit<Run, 'workerCpuUs'>>('result', options.runTimeoutMs);
    const cpu = totalCpuUs([pid]) - cpuStart;
    if (supervisor !== null) {
      let counts = (await controlCounts(controlPort)).get(fn);
      // dispatch: thread sends its counts in batches (every 250 ms): give the last one time to arrive.
      for (
        let wait = 0;
        kind === 'supervisor-thread' && wait < 20 && (counts?.done ?? 0) < warm + options.calls;
        wait++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        counts = (await controlCounts(controlPort)).get(fn);
      }
      if (counts?.done !== warm + options.calls)
        throw new Error(`gworker start completed ${counts?.done} of ${warm + options.calls} calls`);
    }
    return { ...result, workerCpuUs: cpu / (warm + options.calls) };
  } finally {
    await client?.stop(1000);
    await supervisor?.stop();
    await worker?.stop(1000);
    await gearmand.stop();
    scratch.remove();
  }
}

/** The section: one PHP worker (reference) and gworker start, interleaved run by run. */
export async function supervisorRoundTripSection(options: LibraryBenchOptions): Promise<Section> {
  const kinds: Kind[] = ['php', 'supervisor', 'supervisor-thread'];
  const runs = new Map<Kind, Run[]>(kinds.map((kind) => [kind, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const kind of kinds) {
      const result = await withTimeout(
        roundTripOnce(kind, run, options),
        options.runTimeoutMs + 60_000,
        `supervisor round trip run ${run} (${kind})`,
      );
      runs.get(kind)?.push(result);
      options.progress(
        `sv-roundtrip run ${run}/${options.runs}  ${kind}: ${Math.round((result.count * 1e9) / result.ns)} calls/s, p50 ${result.p50Us.toFixed(0)} us, p99 ${result.p99Us.toFixed(0)} us, worker CPU ${result.workerCpuUs.toFixed(1)} us/job`,
      );
    }
  }
  const rows = finishSectionRows(
    kinds.map((kind) => {
      const list = runs.get(kind) ?? [];
      return {
        peer: kind,
        label:
          kind === 'php'
            ? 'PHP client (doNormal) + 1 PHP worker process'
            : kind === 'supervisor'
              ? 'PHP client (doNormal) + gworker start (concurrency 1, defaults)'
              : 'PHP client (doNormal) + gworker start (concurrency 1, dispatch: thread)',
        side: kind === 'php' ? ('php' as const) : ('ours' as const),
        versus: kind === 'php' ? null : 'php',
        values: list.map((r) => (r.count * 1e9) / r.ns),
        metrics: {
          p50Us: list.map((r) => r.p50Us),
          p99Us: list.map((r) => r.p99Us),
          workerCpuUs: list.map((r) => r.workerCpuUs),
        },
      };
    }),
    true,
  );
  const warm = (options.warmup ?? options.calls).toLocaleString('en-US');
  return {
    key: 'default-roundtrip',
    title: `Foreground round trip through gworker start: ${options.calls.toLocaleString('en-US')} sequential calls, one PHP client`,
    unit: 'calls/s',
    higherIsBetter: true,
    columns: [
      { key: 'p50Us', header: 'p50 us' },
      { key: 'p99Us', header: 'p99 us' },
      { key: 'workerCpuUs', header: 'worker CPU us/job', digits: 1 },
    ],
    rows,
    notes: [
      `each run: fresh gearmand (default threads); ${warm} warm-up calls of the same function first, untimed;`,
      'timed inside the PHP client; latency per call, p50 and p99 (medians over runs);',
      'worker CPU us/job: user + system CPU of the worker process (all threads), warm-up calls included, from /proc',
    ],
  };
}
