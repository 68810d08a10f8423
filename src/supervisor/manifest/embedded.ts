import path from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import { MAX_PORT } from '../../limits.js';
import type { NodeReader } from './node-reader.js';
import type { EmbeddedServerConfig } from './types.js';
import { parseDuration } from './units.js';

const kKeys = ['listen', 'store', 'httpPort', 'resultCache'] as const;
const kDefault: EmbeddedServerConfig = { host: '127.0.0.1', port: 4730 };

/**
 * `embeddedServer`: where the in-process job server listens when the manifest names no
 * servers (`host:port` or a port; 0 picks a free one), or a mapping that also turns on
 * its durable store, HTTP gateway and result cache.
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
    } else {
      const ttl = parseDuration(reader.scalar(value));
      if (typeof ttl === 'string') reader.report(value, at, ttl);
      else config = { ...config, resultCacheMs: ttl };
    }
  }
  return config;
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
