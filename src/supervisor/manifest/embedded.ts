import path from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import { MAX_PORT, MAX_RUNNING_CAP } from '../../limits.js';
import type { NodeReader } from './node-reader.js';
import type { EmbeddedServerConfig } from './types.js';
import { parseDuration } from './units.js';

const kKeys = ['listen', 'store', 'httpPort', 'resultCache', 'maxRunning'] as const;
const kDefault: EmbeddedServerConfig = { host: '127.0.0.1', port: 4730 };

/**
 * `embeddedServer`: where the in-process job server listens when the manifest names no
 * servers (`host:port` or a port; 0 picks a free one), or a mapping that also turns on
 * its durable store, HTTP gateway, result cache and per-function caps on running jobs.
 */
export function readEmbedded(
  reader: NodeReader,
  node: Node | null | undefined,
  baseDir: string,
): EmbeddedServerConfig {
  if (node === undefined) return kDefault;
  if (!isMap(node)) return readListen(reader, node, 'embeddedServer') ?? kDefault;
  let config: EmbeddedServerConfig = kDefault;
  for (const [key, value] of reader.entries(node, 'embeddedServer', kKeys)) {
    const at = `embeddedServer.${key}`;
    if (key === 'listen') {
      const listen = readListen(reader, value, at);
      if (listen) config = { ...config, ...listen };
    } else if (key === 'store') {
      const file = reader.string(value, at);
      if (file !== undefined) config = { ...config, store: path.resolve(baseDir, file) };
    } else if (key === 'httpPort') {
      const port = reader.integer(value, at, 0, MAX_PORT);
      if (port !== undefined) config = { ...config, httpPort: port };
    } else if (key === 'maxRunning') {
      const caps = readMaxRunning(reader, value, at);
      if (caps !== undefined) config = { ...config, maxRunning: caps };
    } else {
      const ttl = parseDuration(reader.scalar(value));
      if (typeof ttl === 'string') reader.report(value, at, ttl);
      else config = { ...config, resultCacheMs: ttl };
    }
  }
  return config;
}

/**
 * `maxRunning: { FUNCTION: N }`: the server's `--max-running FN=N` (admin `maxrunning`),
 * set before any worker connects, so a capped function never runs more than N at once.
 */
function readMaxRunning(
  reader: NodeReader,
  node: Node | null,
  at: string,
): Readonly<Record<string, number>> | undefined {
  const map = reader.map(node, at);
  if (map === null) return undefined;
  const caps: Record<string, number> = {};
  for (const [name, value] of reader.entries(map, at, [])) {
    const cap = reader.integer(value, `${at}.${name}`, 1, MAX_RUNNING_CAP);
    if (cap !== undefined) caps[name] = cap;
  }
  return caps;
}

function readListen(
  reader: NodeReader,
  node: Node | null,
  where: string,
): { host: string; port: number } | null {
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_PORT) {
    return { host: kDefault.host, port: value };
  }
  const match = typeof value === 'string' ? /^([^:\s]+):(\d+)$/.exec(value) : null;
  const port = match ? Number(match[2]) : Number.NaN;
  if (match && port <= MAX_PORT) return { host: match[1] as string, port };
  reader.report(node, where, 'expected "host:port" or a port number (0 picks a free port)');
  return null;
}
