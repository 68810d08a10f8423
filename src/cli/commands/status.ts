import type { StatusDocument } from '../../supervisor/control/status-document.js';
import { defineCommand } from '../args/define-command.js';
import { describeBoxStatus } from '../box-report.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';
import { describeCgroupLimits } from '../limits-report.js';
import { formatTable, type TableColumn } from '../table.js';
import { describeChange, describeScaling, scalingCell } from './scaling-text.js';

export const statusCommand = defineCommand({
  name: 'status',
  synopsis: `[--json] [--no-queues] ${kControlSynopsis}`,
  description: `Prints one snapshot of a running supervisor: per function its state, concurrency, busy
slots (+ jobs taken ahead with prefetch, waiting for one), jobs waiting on the job
servers, threads (2p: processes, for isolation: process), code generation, jobs done,
failed and excepted, jobs/s over the last minute and p50/p95/p99 run time; per job server each function's connections,
reconnects and last error, with the server's queue for it (from its admin protocol);
the concurrency of each function that autoscales or was scaled (fixed, auto MIN..MAX or
manual, and its last change: from, to, by whom and why); and the last reload of each
function that reloaded. On a terminal narrower than all the
columns, the tables keep to its width with the columns watched most.`,
  options: {
    json: { type: 'boolean', help: 'print the snapshot as JSON' },
    'no-queues': { type: 'boolean', help: 'do not ask the job servers for queue depths' },
    ...controlOptions(10_000),
  },
  footer: `Exit status: 0 on success; 1 when the supervisor cannot be reached or refuses; 2 on a
usage error.`,
  async run({ values }, io) {
    const client = new ControlClient(await resolveControlTarget(values, io), { timeoutMs: values.timeout });
    const status = await client.get<StatusDocument>(`/api/status${values['no-queues'] ? '?queues=0' : ''}`);
    // On a terminal the tables keep to its width; a pipe gets every column.
    const columns = io.stdout.isTTY ? (io.stdout as { columns?: number }).columns : undefined;
    io.stdout.write(
      values.json
        ? `${JSON.stringify(status, null, 2)}\n`
        : renderStatus(status, columns ? { width: columns } : {}),
    );
    return 0;
  },
});

/** A column of a status table: what it shows of a row, and whether the narrow layout keeps it. */
interface StatusColumn<Row> extends TableColumn {
  readonly cell: (row: Row) => string;
  readonly narrow?: boolean;
}

/** Names longer than this are cut in the narrow layout, so that the numbers stay on screen. */
const kNarrowName = 24;

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const busy = (fn: FunctionRow): string =>
  fn.prefetched > 0 ? `${fn.running}+${fn.prefetched}` : String(fn.running);

type FunctionRow = StatusDocument['functions'][number];
type ServerRow = { readonly server: string } & StatusDocument['servers'][number]['functions'][number];

const kFunctionColumns: ReadonlyArray<StatusColumn<FunctionRow>> = [
  { header: 'FUNCTION', cell: (fn) => fn.name },
  { header: 'KIND', cell: (fn) => fn.kind },
  { header: 'STATE', cell: (fn) => (fn.paused ? 'paused' : 'active') },
  { header: 'CONC', align: 'right', cell: (fn) => String(fn.concurrency) },
  { header: 'BUSY', align: 'right', cell: busy },
  { header: 'QUEUED', align: 'right', cell: (fn) => (fn.queued === null ? '-' : String(fn.queued)) },
  // Processes (isolation: process) show as 2p.
  {
    header: 'THREADS',
    align: 'right',
    cell: (fn) => `${fn.threads}${fn.isolation === 'process' ? 'p' : ''}`,
  },
  { header: 'GEN', align: 'right', cell: (fn) => String(fn.generation) },
  { header: 'DONE', align: 'right', cell: (fn) => String(fn.done) },
  { header: 'FAILED', align: 'right', cell: (fn) => String(fn.failed) },
  { header: 'EXCEPT', align: 'right', cell: (fn) => String(fn.excepted) },
  { header: 'JOBS/S', align: 'right', cell: (fn) => fn.jobsPerSecond.toFixed(2) },
  { header: 'P50', align: 'right', cell: (fn) => formatMs(fn.p50Ms) },
  { header: 'P95', align: 'right', cell: (fn) => formatMs(fn.p95Ms) },
  { header: 'P99', align: 'right', cell: (fn) => formatMs(fn.p99Ms) },
  // fixed, auto:1..4, manual:1..4 (one word, as every cell). A supervisor older than autoscaling sends no scaling.
  { header: 'SCALE', cell: (fn) => (fn.scaling === undefined ? '-' : scalingCell(fn)) },
];

/** 80 columns: busy slots over concurrency, failures and exceptions in one column, p95 only. */
const kNarrowFunctionColumns: ReadonlyArray<StatusColumn<FunctionRow>> = [
  { header: 'FUNCTION', cell: (fn) => cut(fn.name, kNarrowName) },
  { header: 'STATE', cell: (fn) => (fn.paused ? 'paused' : 'active') },
  { header: 'BUSY', align: 'right', cell: (fn) => `${busy(fn)}/${fn.concurrency}` },
  { header: 'QUEUED', align: 'right', cell: (fn) => (fn.queued === null ? '-' : String(fn.queued)) },
  { header: 'DONE', align: 'right', cell: (fn) => String(fn.done) },
  { header: 'FAIL/EXC', align: 'right', cell: (fn) => `${fn.failed}/${fn.excepted}` },
  { header: 'JOBS/S', align: 'right', cell: (fn) => fn.jobsPerSecond.toFixed(2) },
  { header: 'P95', align: 'right', cell: (fn) => formatMs(fn.p95Ms) },
];

const kServerColumns: ReadonlyArray<StatusColumn<ServerRow>> = [
  { header: 'SERVER', cell: (row) => row.server, narrow: true },
  { header: 'FUNCTION', cell: (row) => row.function, narrow: true },
  { header: 'CONNS', align: 'right', cell: (row) => String(row.connections) },
  { header: 'STATE', cell: (row) => linkState(row.up, row.connections), narrow: true },
  { header: 'RECONNECTS', align: 'right', cell: (row) => String(row.reconnects) },
  {
    header: 'QUEUED',
    align: 'right',
    cell: (row) => (row.queue === null ? '-' : String(row.queue.queued)),
    narrow: true,
  },
  {
    header: 'RUNNING',
    align: 'right',
    cell: (row) => (row.queue === null ? '-' : String(row.queue.running)),
  },
  {
    header: 'WORKERS',
    align: 'right',
    cell: (row) => (row.queue === null ? '-' : String(row.queue.workers)),
    narrow: true,
  },
  { header: 'LAST ERROR', cell: (row) => row.lastError ?? '-', narrow: true },
];

/**
 * A status table: every column when it fits in `width` (or no width is given: a pipe
 * gets everything), else the narrow set. The last column is free text (a last error):
 * it does not decide the layout, and any line still too long is cut with "…".
 */
function statusTable<Row>(
  columns: ReadonlyArray<StatusColumn<Row>>,
  rows: readonly Row[],
  width?: number,
  narrowColumns: ReadonlyArray<StatusColumn<Row>> = columns.filter((column) => column.narrow),
): string {
  const render = (set: ReadonlyArray<StatusColumn<Row>>, lastCell = true) =>
    formatTable(
      set,
      rows.map((row) => set.map((column, i) => (lastCell || i < set.length - 1 ? column.cell(row) : ''))),
    );
  const wide = render(columns);
  if (width === undefined) return wide;
  const fits = render(columns, false)
    .split('\n')
    .every((line) => line.length <= width);
  return fitLines(fits ? wide : render(narrowColumns), width);
}

/** Each line cut to `width` columns, the cut marked with "…". */
function fitLines(text: string, width: number): string {
  return text.replace(/^.*$/gm, (line) => (line.length <= width ? line : `${line.slice(0, width - 1)}…`));
}

/**
 * The snapshot as plain-text tables (also what `gworker top` redraws). With `width`
 * (a terminal's columns), the tables keep to it: all columns on a wide terminal, the
 * ones an operator watches most (state, busy, queued, outcomes, rate, p95) on a narrow one.
 */
export function renderStatus(status: StatusDocument, options: { readonly width?: number } = {}): string {
  const { width } = options;
  const headLine = `supervisor pid ${status.pid}, up ${formatUptime(status.uptimeMs)}, manifest ${status.manifest}${
    status.draining ? ' — DRAINING (no new jobs; exits when running jobs end)' : ''
  }`;
  const head = `${width === undefined ? headLine : fitLines(headLine, width)}\n\n`;
  const functions = statusTable(kFunctionColumns, status.functions, width, kNarrowFunctionColumns);
  const servers = statusTable(
    kServerColumns,
    status.servers.flatMap((server) => server.functions.map((row) => ({ server: server.server, ...row }))),
    width,
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
  const scaling = status.functions
    .filter(
      (fn) => fn.scaling !== undefined && (fn.scaling.mode !== 'fixed' || fn.scaling.lastChange !== null),
    )
    .map((fn) => {
      const last = fn.scaling.lastChange;
      return `  ${fn.name}: ${fn.concurrency} (${describeScaling(fn)})${last === null ? '' : `, last ${describeChange(last)}`}\n`;
    });
  const text = [
    head,
    functions,
    '\n',
    servers,
    ...notes,
    ...(scaling.length > 0 ? ['\nconcurrency:\n', ...scaling] : []),
    ...(reloads.length > 0 ? ['\nlast reloads:\n', ...reloads] : []),
    // A supervisor older than the box budget or the cgroup report sends none.
    status.box === undefined ? '' : `\n${describeBoxStatus(status.box)}\n`,
    status.cgroup === undefined ? '' : `\n${describeCgroupLimits(status.cgroup)}\n`,
  ].join('');
  return width === undefined ? text : fitLines(text, width);
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
