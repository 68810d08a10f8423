import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, type Node, parseDocument } from 'yaml';
import { MAX_IDENTIFIER_SIZE } from '../../protocol/constants.js';
import { readAutoscale } from './autoscale.js';
import { readBox } from './box.js';
import { readControl } from './control.js';
import { readEmbedded } from './embedded.js';
import { substituteEnv } from './env-substitution.js';
import { ManifestError } from './errors.js';
import { readFailures } from './failures.js';
import { readFunctions } from './functions.js';
import { NodeReader } from './node-reader.js';
import { DEFAULT_MAX_RESULT_SIZE, readMaxResultSize } from './result-size.js';
import { readRetry } from './retry.js';
import { readServers, serversFromEnv } from './servers.js';
import type { Manifest, ServerConfig } from './types.js';
import { parseDuration } from './units.js';

const kTopKeys = [
  'servers',
  'connections',
  'clientId',
  'shutdownTimeout',
  'embeddedServer',
  'exceptions',
  'maxResultSize',
  'retry',
  'failures',
  'control',
  'box',
  'autoscale',
  'functions',
] as const;
const kDefaultShutdownTimeoutMs = 30_000;
const kDefaultConnections = 2;

export interface LoadOptions {
  /** Environment for ${VAR} in values and for overrides (GWORKER_SERVERS). @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads and validates a manifest file; throws ManifestError listing every problem. */
export async function loadManifest(file: string, options: LoadOptions = {}): Promise<Manifest> {
  const full = path.resolve(file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ManifestError([
      { file: full, line: 1, column: 1, path: '', message: `cannot read the manifest: ${reason}` },
    ]);
  }
  return parseManifest(text, full, options);
}

/** Validates manifest text as if it were the file `file` (paths resolve against its folder). */
export function parseManifest(text: string, file: string, options: LoadOptions = {}): Manifest {
  const env = options.env ?? process.env;
  const baseDir = path.dirname(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const reader = new NodeReader(file, lines);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const pos = error.linePos?.[0] ?? { line: 1, col: 1 };
      const message =
        error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message;
      reader.issues.push({
        file,
        line: pos.line,
        column: pos.col,
        path: '',
        message: `YAML syntax: ${message}`,
      });
    }
    throw new ManifestError(reader.issues);
  }
  const root = reader.map(doc.contents, '');
  if (!root) throw new ManifestError(reader.issues);
  substituteEnv(reader, root, env, text);
  // A value whose variable is missing would only be reported again as a bad value.
  if (reader.issues.length > 0) throw new ManifestError(reader.issues);
  const settings = new Map(reader.entries(root, '', kTopKeys).map(([k, v]) => [k, v] as const));

  const connections = settings.has('connections')
    ? (reader.integer(settings.get('connections') ?? null, 'connections', 1, 1024) ?? kDefaultConnections)
    : kDefaultConnections;
  let servers: ServerConfig[] | null = settings.has('servers')
    ? readServers(reader, settings.get('servers') ?? null, connections, baseDir)
    : null;
  if (servers !== null && servers.length === 0 && reader.issues.length === 0) {
    reader.report(
      settings.get('servers'),
      'servers',
      'expected at least one server, or leave "servers" out to run the embedded one',
    );
  }
  const fromEnv = env.GWORKER_SERVERS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const parsed = serversFromEnv(fromEnv, connections);
    if (typeof parsed === 'string') reader.report(root, 'servers', parsed);
    else servers = parsed;
  }
  const clientId = readClientId(reader, settings.get('clientId'));
  const shutdownTimeoutMs = readShutdownTimeout(reader, settings.get('shutdownTimeout'));
  const embeddedServer = readEmbedded(reader, settings.get('embeddedServer'), baseDir);
  const control = readControl(reader, settings.get('control'), baseDir);
  const box = readBox(reader, settings.get('box'));
  const failures = settings.has('failures')
    ? readFailures(reader, settings.get('failures') ?? null, baseDir)
    : undefined;
  const autoscale = readAutoscale(reader, settings.get('autoscale'));
  if (!settings.has('functions')) reader.report(root, 'functions', 'missing setting "functions"');
  const exceptions = settings.has('exceptions')
    ? reader.boolean(settings.get('exceptions') ?? null, 'exceptions')
    : true;
  const maxResultSize = readMaxResultSize(
    reader,
    settings.get('maxResultSize'),
    'maxResultSize',
    DEFAULT_MAX_RESULT_SIZE,
  );
  // A default every function takes unless it sets its own (or `retry: false`).
  const retry = settings.has('retry') ? readRetry(reader, settings.get('retry') ?? null, 'retry') : undefined;
  const functions = settings.has('functions')
    ? readFunctions(reader, settings.get('functions') ?? null, baseDir, {
        exceptions,
        maxResultSize,
        ...(retry ? { retry } : {}),
        boxSlots: box?.slots !== undefined,
      })
    : [];

  if (reader.issues.length > 0) throw new ManifestError(reader.issues);
  return {
    file,
    servers,
    embeddedServer,
    connections,
    ...(clientId === undefined ? {} : { clientId }),
    shutdownTimeoutMs,
    control,
    ...(failures === undefined ? {} : { failures }),
    box,
    ...(autoscale === undefined ? {} : { autoscale }),
    functions,
  };
}

function readClientId(reader: NodeReader, node: Node | null | undefined): string | undefined {
  if (node === undefined) return undefined;
  const id = reader.string(node, 'clientId');
  if (id !== undefined && (Buffer.byteLength(id) > MAX_IDENTIFIER_SIZE || /[\s\0]/.test(id))) {
    reader.report(node, 'clientId', `expected at most ${MAX_IDENTIFIER_SIZE} bytes without spaces`);
    return undefined;
  }
  return id;
}

function readShutdownTimeout(reader: NodeReader, node: Node | null | undefined): number {
  if (node === undefined) return kDefaultShutdownTimeoutMs;
  const parsed = parseDuration(reader.scalar(node));
  if (typeof parsed === 'number') return parsed;
  reader.report(node, 'shutdownTimeout', parsed);
  return kDefaultShutdownTimeoutMs;
}
