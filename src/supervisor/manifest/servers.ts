import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import { MAX_PORT } from '../../limits.js';
import { parseServerAddress, type TlsOptions } from '../../net/address.js';
import type { NodeReader } from './node-reader.js';
import type { ServerConfig } from './types.js';

const kServerKeys = ['host', 'port', 'connections', 'tls'] as const;
const kTlsKeys = ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const;

/** Reads the `servers` list: `host:port` strings or `{ host, port, connections, tls }`. */
export function readServers(
  reader: NodeReader,
  node: Node | null,
  defaultConnections: number,
  baseDir: string,
): ServerConfig[] {
  const seq = reader.seq(node, 'servers');
  if (!seq) return [];
  const servers: ServerConfig[] = [];
  seq.items.forEach((item, index) => {
    const where = `servers[${index}]`;
    if (isScalar(item)) {
      try {
        const { host, port } = parseServerAddress(String(item.value));
        servers.push({ host, port, connections: defaultConnections });
      } catch (err) {
        reader.report(item, where, `expected "host:port": ${(err as Error).message}`);
      }
      return;
    }
    if (!isMap(item)) {
      reader.report(
        item as Node,
        where,
        'expected "host:port" or a mapping with host, port, connections, tls',
      );
      return;
    }
    let host: string | undefined;
    let port = 4730;
    let connections = defaultConnections;
    let tls: TlsOptions | undefined;
    let portOk = true;
    for (const [key, value] of reader.entries(item, where, kServerKeys)) {
      if (key === 'host') host = reader.string(value, `${where}.host`);
      else if (key === 'port') {
        const parsed = reader.integer(value, `${where}.port`, 1, MAX_PORT);
        if (parsed === undefined) portOk = false;
        else port = parsed;
      } else if (key === 'connections') {
        connections = reader.integer(value, `${where}.connections`, 1, 1024) ?? connections;
      } else if (key === 'tls') tls = readTls(reader, value, `${where}.tls`, baseDir);
    }
    if (host === undefined) {
      if (!item.has('host')) reader.report(item, `${where}.host`, 'missing setting "host"');
      return;
    }
    if (!portOk) return;
    servers.push(tls ? { host, port, connections, tls } : { host, port, connections });
  });
  return servers;
}

function readTls(
  reader: NodeReader,
  node: Node | null,
  where: string,
  baseDir: string,
): TlsOptions | undefined {
  if (isScalar(node) && node.value === true) return {};
  const map = reader.map(node, where);
  if (!map) return undefined;
  const tls: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  for (const [key, value] of reader.entries(map, where, kTlsKeys)) {
    const at = `${where}.${key}`;
    if (key === 'rejectUnauthorized') {
      const flag = reader.scalar(value);
      if (typeof flag === 'boolean') tls.rejectUnauthorized = flag;
      else reader.report(value, at, 'expected true or false');
    } else if (key === 'servername') {
      const name = reader.string(value, at);
      if (name !== undefined) tls.servername = name;
    } else {
      const file = reader.string(value, at);
      if (file === undefined) continue;
      const full = path.resolve(baseDir, file);
      if (!existsSync(full)) {
        reader.report(value, at, `file not found: ${full}`);
        continue;
      }
      const contents = readFileSync(full);
      if (key === 'ca') tls.ca = contents;
      else if (key === 'cert') tls.cert = contents;
      else tls.key = contents;
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    reader.report(node, where, 'cert and key go together: give both or neither');
  }
  return tls;
}

/**
 * GWORKER_SERVERS=h1:4730,h2:4730 replaces the manifest's servers (each with the default
 * connection count). Returns a message instead when the variable is malformed.
 */
export function serversFromEnv(value: string, defaultConnections: number): ServerConfig[] | string {
  const servers: ServerConfig[] = [];
  for (const part of value.split(',')) {
    if (part.trim() === '') continue;
    try {
      const { host, port } = parseServerAddress(part);
      servers.push({ host, port, connections: defaultConnections });
    } catch (err) {
      return `GWORKER_SERVERS: ${(err as Error).message}`;
    }
  }
  return servers.length > 0 ? servers : 'GWORKER_SERVERS is set but names no server';
}
