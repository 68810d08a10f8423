import { parseArgs } from 'node:util';
import type { StatusDocument } from '../../supervisor/control/status-document.js';
import {
  ControlClient,
  controlHelp,
  controlOptions,
  parseTimeout,
  resolveControlTarget,
} from '../control-client.js';
import type { CliCommand } from '../io.js';
import { UsageError } from '../io.js';
import { describeCgroupLimits } from '../limits-report.js';
import { formatTable } from '../table.js';

const kUsage = `usage: gworker status [--json] [--no-queues] [-c FILE | --control ADDR] [--token TOKEN]

Prints one snapshot of a running supervisor: per function its state, concurrency, busy
slots (+ jobs taken ahead with prefetch, waiting for one), jobs waiting on the job servers, threads, code generation, jobs done, failed and
excepted, jobs/s over the last minute and p50/p95/p99 run time; per job server each
function's connections, reconnects and last error, with the server's queue for it
(from its admin protocol); and the last reload of each function that reloaded.

options:
      --json          print the snapshot as JSON
      --no-queues     do not ask the job servers for queue depths
${controlHelp}

Exit status: 0 on success; 1 when the supervisor cannot be reached or refuses; 2 on a
usage error.
`;

export const statusCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...controlOptions, json: { type: 'boolean' }, 'no-queues': { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('status takes no arguments');
  const client = new ControlClient(await resolveControlTarget(values, io), {
    timeoutMs: parseTimeout(values.timeout),
  });
  const status = await client.get<StatusDocument>(`/api/status${values['no-queues'] ? '?queues=0' : ''}`);
  io.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  return 0;
};

/** The snapshot as plain-text tables (also what `gworker top` redraws). */
export function renderStatus(status: StatusDocument): string {
  const head = `supervisor pid ${status.pid}, up ${formatUptime(status.uptimeMs)}, manifest ${status.manifest}${
    status.draining ? ' — DRAINING (no new jobs; exits when running jobs end)' : ''
  }\n\n`;
  const functions = formatTable(
    [
      { header: 'FUNCTION' },
      { header: 'KIND' },
      { header: 'STATE' },
      { header: 'CONC', align: 'right' },
      { header: 'BUSY', align: 'right' },
      { header: 'QUEUED', align: 'right' },
      { header: 'THREADS', align: 'right' },
      { header: 'GEN', align: 'right' },
      { header: 'DONE', align: 'right' },
      { header: 'FAILED', align: 'right' },
      { header: 'EXCEPT', align: 'right' },
      { header: 'JOBS/S', align: 'right' },
      { header: 'P50', align: 'right' },
      { header: 'P95', align: 'right' },
      { header: 'P99', align: 'right' },
    ],
    status.functions.map((fn) => [
      fn.name,
      fn.kind,
      fn.paused ? 'paused' : 'active',
      String(fn.concurrency),
      fn.prefetched > 0 ? `${fn.running}+${fn.prefetched}` : String(fn.running),
      fn.queued === null ? '-' : String(fn.queued),
      String(fn.threads),
      String(fn.generation),
      String(fn.done),
      String(fn.failed),
      String(fn.excepted),
      fn.jobsPerSecond.toFixed(2),
      formatMs(fn.p50Ms),
      formatMs(fn.p95Ms),
      formatMs(fn.p99Ms),
    ]),
  );
  const servers = formatTable(
    [
      { header: 'SERVER' },
      { header: 'FUNCTION' },
      { header: 'CONNS', align: 'right' },
      { header: 'STATE' },
      { header: 'RECONNECTS', align: 'right' },
      { header: 'QUEUED', align: 'right' },
      { header: 'RUNNING', align: 'right' },
      { header: 'WORKERS', align: 'right' },
      { header: 'LAST ERROR' },
    ],
    status.servers.flatMap((server) =>
      server.functions.map((row) => [
        server.server,
        row.function,
        String(row.connections),
        linkState(row.up, row.connections),
        String(row.reconnects),
        row.queue === null ? '-' : String(row.queue.queued),
        row.queue === null ? '-' : String(row.queue.running),
        row.queue === null ? '-' : String(row.queue.workers),
        row.lastError ?? '-',
      ]),
    ),
  );
  const notes = status.servers
    .filter((server) => server.adminError !== null)
    .map((server) => `queue depths of ${server.server} unknown: ${server.adminError}\n`);
  const reloads = status.functions
    .filter((fn) => fn.lastReload !== null)
    .map((fn) => {
      const r = fn.lastReload as NonNullable<typeof fn.lastReload>;
      const outcome = r.ok
        ? `generation ${r.generation}`
        : `rejected, generation ${r.generation} keeps serving: ${r.error}`;
      return `  ${fn.name}: ${r.at} ${outcome}\n`;
    });
  return [
    head,
    functions,
    '\n',
    servers,
    ...notes,
    ...(reloads.length > 0 ? ['\nlast reloads:\n', ...reloads] : []),
    // A supervisor older than the cgroup report sends none.
    status.cgroup === undefined ? '' : `\n${describeCgroupLimits(status.cgroup)}\n`,
  ].join('');
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${ms.toFixed(0)}ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ] as const;
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first === -1 ? 3 : first)
    .map(([n, unit]) => `${n}${unit}`)
    .join(' ');
}

/** `connected` when every connection is up, `partly (1/2)` when some are, else `down`. */
function linkState(up: number, connections: number): string {
  if (up === 0) return 'down';
  return up >= connections ? 'connected' : `partly (${up}/${connections})`;
}
