import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import {
  type ControlListen,
  DEFAULT_CONTROL_HOST,
  DEFAULT_CONTROL_PORT,
  formatControlAddress,
  isLoopback,
  parseControlAddress,
} from '../control/listen-address.js';
import type { NodeReader } from './node-reader.js';
import type { ControlConfig } from './types.js';

const kControlKeys = ['listen', 'token', 'tokenFile'] as const;
/** Short tokens can be guessed by whoever reaches the port; 16 characters is the floor. */
const kMinTokenLength = 16;

export const DEFAULT_CONTROL: ControlConfig = {
  listen: { kind: 'tcp', host: DEFAULT_CONTROL_HOST, port: DEFAULT_CONTROL_PORT },
  explicit: false,
};

/**
 * Reads `control`: an address (`127.0.0.1:4731`, a port, `/run/gworker.sock`), `false`
 * to turn the API off, or `{ listen, token, tokenFile }`. An address other hosts can
 * reach (0.0.0.0, a LAN address, a host name) needs a token, so that nothing opens the
 * supervisor's commands to the network by accident.
 */
export function readControl(
  reader: NodeReader,
  node: Node | null | undefined,
  baseDir: string,
): ControlConfig {
  if (node === undefined) return DEFAULT_CONTROL;
  if (!isMap(node)) {
    const listen = readListen(reader, node, 'control', baseDir);
    if (listen === undefined) return DEFAULT_CONTROL;
    requireTokenBeyondLoopback(reader, node, 'control', listen, false);
    return { listen, explicit: true };
  }
  let listen: ControlListen | null | undefined = DEFAULT_CONTROL.listen;
  let listenNode: Node | null = node;
  let token: string | undefined;
  let tokenNode: Node | null = null;
  for (const [key, value] of reader.entries(node, 'control', kControlKeys)) {
    if (key === 'listen') {
      listen = readListen(reader, value, 'control.listen', baseDir);
      listenNode = value;
    } else if (key === 'token') {
      token = readToken(reader, value, 'control.token', reader.string(value, 'control.token'));
      tokenNode = value;
    } else {
      if (tokenNode !== null) reader.report(value, 'control.tokenFile', 'give token or tokenFile, not both');
      token = readTokenFile(reader, value, baseDir);
      tokenNode = value;
    }
  }
  if (listen === undefined) return DEFAULT_CONTROL;
  // A token that was given but refused is reported once, where it stands.
  requireTokenBeyondLoopback(reader, listenNode, 'control.listen', listen, tokenNode !== null);
  return { listen, ...(token === undefined ? {} : { token }), explicit: node.has('listen') };
}

function readListen(
  reader: NodeReader,
  node: Node | null,
  where: string,
  baseDir: string,
): ControlListen | null | undefined {
  const value = isScalar(node) ? node.value : undefined;
  if (value === false) return null;
  if (value === true) return DEFAULT_CONTROL.listen;
  if (typeof value === 'number' || (typeof value === 'string' && value !== '')) {
    try {
      return parseControlAddress(String(value), baseDir);
    } catch (err) {
      reader.report(node, where, (err as Error).message);
      return undefined;
    }
  }
  reader.report(node, where, 'expected "host:port", a port, a Unix socket path, or false');
  return undefined;
}

function readToken(reader: NodeReader, node: Node | null, where: string, token: string | undefined) {
  if (token === undefined) return undefined;
  if (token.length < kMinTokenLength || /\s/.test(token)) {
    reader.report(node, where, `expected at least ${kMinTokenLength} characters without spaces`);
    return undefined;
  }
  return token;
}

function readTokenFile(reader: NodeReader, node: Node | null, baseDir: string): string | undefined {
  const file = reader.string(node, 'control.tokenFile');
  if (file === undefined) return undefined;
  const full = path.resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    reader.report(node, 'control.tokenFile', `${reason}: ${full}`);
    return undefined;
  }
  return readToken(reader, node, 'control.tokenFile', text.trim());
}

function requireTokenBeyondLoopback(
  reader: NodeReader,
  node: Node | null,
  where: string,
  listen: ControlListen | null,
  hasToken: boolean,
): void {
  if (listen === null || listen.kind === 'unix' || isLoopback(listen.host) || hasToken) return;
  reader.report(
    node,
    where,
    `${formatControlAddress(listen)} is reachable from other hosts: set control.token (or tokenFile), or listen on 127.0.0.1`,
  );
}
