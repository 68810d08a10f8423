import { usableCores } from '../../supervisor/capacity/usable-cores.js';
import { readCgroupLimits } from '../../supervisor/cgroup-limits.js';
import { loadHandlers } from '../../supervisor/checks/load-handlers.js';
import { typeCheckHandlers } from '../../supervisor/checks/type-check.js';
import { formatControlAddress } from '../../supervisor/control/listen-address.js';
import { ManifestError } from '../../supervisor/manifest/errors.js';
import { loadManifest } from '../../supervisor/manifest/load.js';
import { DEFAULT_MAX_RESULT_SIZE } from '../../supervisor/manifest/result-size.js';
import type { FunctionConfig, Manifest } from '../../supervisor/manifest/types.js';
import { formatDuration, formatSize } from '../../supervisor/manifest/units.js';
import { kDefaultMaxOutputBytes } from '../../supervisor/runtime/command-runner.js';
import { defineCommand } from '../args/define-command.js';
import { describeBox, describeFunctionBudget } from '../box-report.js';
import type { CliIo } from '../io.js';
import { describeCgroupLimits, heapBudgetWarning } from '../limits-report.js';

export const checkCommand = defineCommand({
  name: 'check',
  synopsis: '[--json] [--types] MANIFEST',
  description: `Validates a manifest and prints the configuration it resolves to: every server, every
function with its defaults filled in, paths made absolute. Every problem is reported at
once, as FILE:LINE:COLUMN: SETTING: what was expected. Then loads every handler module
in a scratch thread, as start does: a syntax error, a throw at import or a missing
export is reported as FUNCTION: cannot load FILE:LINE:COLUMN: what went wrong.`,
  options: {
    json: { type: 'boolean', help: 'print the resolved configuration as JSON' },
    types: {
      type: 'boolean',
      help: "also type-check .ts handlers with the project's TypeScript (start never type-checks); an error when the project has no TypeScript installed",
    },
  },
  arguments: { min: 1, shape: 'one manifest file' },
  footer:
    'Exit status: 0 when the manifest is valid and every handler loads (and type-checks, with --types), 1 when not, 2 on a usage error.',
  async run({ values, positionals }, io) {
    let manifest: Manifest;
    try {
      manifest = await loadManifest(positionals[0] as string, { env: io.env });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    // The box's limits, beside the manifest: maxMemoryMb bounds only each thread's heap.
    const cgroup = readCgroupLimits();
    const warning = heapBudgetWarning(manifest, cgroup);
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ ...(toJson(manifest) as object), cgroup, warnings: warning === null ? [] : [warning] }, null, 2)}\n`
        : `${describeManifest(manifest)}${describeCgroupLimits(cgroup)}\n`,
    );
    if (warning !== null) io.stderr.write(`${warning}\n`);
    const loadProblems = await loadHandlers(manifest);
    for (const problem of loadProblems) io.stderr.write(`${problem.function}: ${problem.message}\n`);
    const typesOk = values.types ? await reportTypes(manifest, io) : true;
    return loadProblems.length === 0 && typesOk ? 0 : 1;
  },
});

/** --types: true when every .ts handler type-checks (or there is none). */
async function reportTypes(manifest: Manifest, io: CliIo): Promise<boolean> {
  const outcome = await typeCheckHandlers(manifest);
  if (outcome.kind === 'nothing') return true;
  if (outcome.kind === 'no-typescript') {
    io.stderr.write(
      `--types: no TypeScript installed for ${outcome.from} or a folder above it; install it there (npm install --save-dev typescript)\n`,
    );
    return false;
  }
  for (const problem of outcome.problems) io.stderr.write(`${problem}\n`);
  if (outcome.problems.length === 0) {
    io.stderr.write(`types: ${outcome.files} handler(s) checked with TypeScript ${outcome.version}\n`);
  }
  return outcome.problems.length === 0;
}

/** The resolved manifest as JSON, with secrets (TLS material, the control token) reduced to whether they are set. */
export function toJson(manifest: Manifest): unknown {
  const { token, ...control } = manifest.control;
  return {
    ...manifest,
    servers: manifest.servers?.map(({ tls, ...server }) => (tls ? { ...server, tls: true } : server)) ?? null,
    control: { ...control, token: token !== undefined },
    box: { ...manifest.box, cpuSlots: manifest.box.cpuSlots ?? usableCores() },
  };
}

export function describeManifest(manifest: Manifest): string {
  const lines = [`manifest: ${manifest.file}`];
  if (manifest.servers === null) {
    const { host, port } = manifest.embeddedServer;
    lines.push(`servers: none named; the embedded job server runs on ${host}:${port}`);
  } else {
    lines.push('servers:');
    for (const s of manifest.servers) {
      lines.push(`  ${s.host}:${s.port}  ${s.connections} connection(s) per function${s.tls ? ', TLS' : ''}`);
    }
  }
  if (manifest.clientId !== undefined) lines.push(`clientId: ${manifest.clientId}`);
  const { listen, token } = manifest.control;
  lines.push(
    listen === null
      ? 'control: off'
      : `control: ${formatControlAddress(listen)}${token === undefined ? '' : ' (token required)'}`,
  );
  if (manifest.failures !== undefined) {
    lines.push(`failures: ${manifest.failures.store} (keep ${manifest.failures.keep})`);
  }
  lines.push(`shutdownTimeout: ${formatDuration(manifest.shutdownTimeoutMs)}`, describeBox(manifest.box));
  lines.push('functions:');
  for (const fn of manifest.functions)
    lines.push(...describeFunction(fn), ...describeRetry(fn), ...describeFunctionBudget(fn));
  return `${lines.join('\n')}\n`;
}

/** The function's retry and dead letter, when it has them (docs/retries.md). */
function describeRetry(fn: FunctionConfig): string[] {
  const parts: string[] = [];
  const { retry } = fn;
  if (retry !== undefined) {
    const wait =
      retry.backoff === 'fixed'
        ? `every ${formatDuration(retry.delayMs)}`
        : `from ${formatDuration(retry.delayMs)} doubling up to ${formatDuration(retry.maxDelayMs)}`;
    const jitter = retry.jitter === 0 ? '' : `, jitter ${retry.jitter}`;
    parts.push(`retry: ${retry.attempts} attempts, ${wait}${jitter}, on ${retry.on.join(', ')}`);
  }
  if (fn.deadLetter !== undefined) parts.push(`dead letter to ${fn.deadLetter}`);
  return parts.length === 0 ? [] : [`    ${parts.join('; ')}`];
}

/** `concurrency 3`, `concurrency auto (2 usable cores)`, `concurrency 1..4, autoscaled`. */
function describeConcurrency(fn: FunctionConfig): string {
  const cores = fn.concurrencyAuto ? ` (${fn.scaling?.max ?? fn.concurrency} usable cores)` : '';
  if (fn.scaling === undefined) return `concurrency ${fn.concurrencyAuto ? 'auto' : fn.concurrency}${cores}`;
  return `concurrency ${fn.scaling.min}..${fn.concurrencyAuto ? 'auto' : fn.scaling.max}${cores}, autoscaled`;
}

function describeFunction(fn: FunctionConfig): string[] {
  const common = [
    describeConcurrency(fn),
    `payload ${fn.payload}`,
    fn.timeoutMs === undefined ? 'no timeout' : `timeout ${formatDuration(fn.timeoutMs)}`,
    `results up to ${formatSize(fn.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE)}`,
  ];
  if (fn.kind === 'command') {
    return [
      `  ${fn.name}: command ${JSON.stringify(fn.command)} in ${fn.cwd}`,
      `    ${[...common, `output ${fn.output}, at most ${formatSize(fn.maxOutputBytes ?? kDefaultMaxOutputBytes)}`].join(', ')}`,
    ];
  }
  const worker = fn.isolation === 'process' ? 'process' : 'thread';
  const limits = [
    `${fn.jobsPerThread} job(s) per ${worker}`,
    (fn.prefetch ?? 0) === 0 ? null : `${fn.prefetch} more taken ahead per ${worker}`,
    fn.maxJobsPerThread === undefined ? null : `recycle after ${fn.maxJobsPerThread} jobs`,
    fn.maxJobsPerProcess === undefined ? null : `recycle a process after ${fn.maxJobsPerProcess} jobs`,
    fn.maxMemoryMb === undefined ? null : `heap ${fn.maxMemoryMb} MB`,
    fn.maxRssMb === undefined ? null : `resident set ${fn.maxRssMb} MB`,
  ].filter((x): x is string => x !== null);
  const exportName = fn.export === 'default' ? '' : ` (export ${fn.export})`;
  return [`  ${fn.name}: handler ${fn.handler}${exportName}`, `    ${[...common, ...limits].join(', ')}`];
}
