import { parseArgs } from 'node:util';
import { formatControlAddress } from '../../supervisor/control/listen-address.js';
import { ManifestError } from '../../supervisor/manifest/errors.js';
import { loadManifest } from '../../supervisor/manifest/load.js';
import { DEFAULT_MAX_RESULT_SIZE } from '../../supervisor/manifest/result-size.js';
import type { FunctionConfig, Manifest } from '../../supervisor/manifest/types.js';
import { formatDuration, formatSize } from '../../supervisor/manifest/units.js';
import type { CliCommand } from '../io.js';
import { UsageError } from '../io.js';

const kUsage = `usage: gworker check [--json] MANIFEST

Validates a manifest and prints the configuration it resolves to: every server, every
function with its defaults filled in, paths made absolute. Every problem is reported at
once, as FILE:LINE:COLUMN: SETTING: what was expected.

options:
      --json   print the resolved configuration as JSON
  -h, --help   print this help

Exit status: 0 when the manifest is valid, 1 when it is not, 2 on a usage error.
`;

export const checkCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('check takes one manifest file');
  let manifest: Manifest;
  try {
    manifest = await loadManifest(positionals[0] as string, { env: io.env });
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return 1;
  }
  io.stdout.write(
    values.json ? `${JSON.stringify(toJson(manifest), null, 2)}\n` : describeManifest(manifest),
  );
  return 0;
};

/** The resolved manifest as JSON, with secrets (TLS material, the control token) reduced to whether they are set. */
export function toJson(manifest: Manifest): unknown {
  const { token, ...control } = manifest.control;
  return {
    ...manifest,
    servers: manifest.servers?.map(({ tls, ...server }) => (tls ? { ...server, tls: true } : server)) ?? null,
    control: { ...control, token: token !== undefined },
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
  lines.push(`shutdownTimeout: ${formatDuration(manifest.shutdownTimeoutMs)}`, 'functions:');
  for (const fn of manifest.functions) lines.push(...describeFunction(fn));
  return `${lines.join('\n')}\n`;
}

function describeFunction(fn: FunctionConfig): string[] {
  const common = [
    `concurrency ${fn.concurrency}`,
    `payload ${fn.payload}`,
    fn.timeoutMs === undefined ? 'no timeout' : `timeout ${formatDuration(fn.timeoutMs)}`,
    `results up to ${formatSize(fn.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE)}`,
  ];
  if (fn.kind === 'command') {
    return [
      `  ${fn.name}: command ${JSON.stringify(fn.command)} in ${fn.cwd}`,
      `    ${[...common, `output ${fn.output}`].join(', ')}`,
    ];
  }
  const limits = [
    `${fn.jobsPerThread} job(s) per thread`,
    (fn.prefetch ?? 0) === 0 ? null : `${fn.prefetch} more taken ahead per thread`,
    fn.maxJobsPerThread === undefined ? null : `recycle after ${fn.maxJobsPerThread} jobs`,
    fn.maxMemoryMb === undefined ? null : `heap ${fn.maxMemoryMb} MB`,
  ].filter((x): x is string => x !== null);
  const exportName = fn.export === 'default' ? '' : ` (export ${fn.export})`;
  return [`  ${fn.name}: handler ${fn.handler}${exportName}`, `    ${[...common, ...limits].join(', ')}`];
}
