import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/client/client.js';
import { GearmanServer } from '../../src/server/server.js';
import { ControlServer, type ControlServerOptions } from '../../src/supervisor/control/control-server.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';

export const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));

/** A supervisor on the embedded job server with its control API, all in this process. */
export interface Controlled {
  readonly dir: string;
  readonly gearman: string;
  readonly jobServer: GearmanServer;
  readonly supervisor: Supervisor;
  readonly control: ControlServer;
  readonly client: Client;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly base: string;
  close(): Promise<void>;
}

/**
 * Starts a job server on 127.0.0.1:0, a supervisor running `functions` (manifest YAML
 * lines under `functions:`, with `$DIR` replaced by a fresh folder and `$FIXTURES` by the
 * handler fixtures), and a control server on 127.0.0.1:0 unless `control.listen` says otherwise.
 */
export async function startControlled(
  functions: string,
  control: Partial<ControlServerOptions> = {},
  files: Record<string, string> = {},
): Promise<Controlled> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-control-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  const gearman = `127.0.0.1:${port}`;
  const file = path.join(dir, 'gworker.yaml');
  const text = `servers: ["${gearman}"]\nconnections: 1\nshutdownTimeout: 5s\nfunctions:\n${functions
    .replaceAll('$DIR', dir)
    .replaceAll('$FIXTURES', fixtures)}`;
  writeFileSync(file, text);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 300 });
  const client = new Client({ servers: [gearman] });
  let controlServer: ControlServer | undefined;
  const close = async () => {
    await client.close();
    await controlServer?.close();
    await supervisor.close({ force: true });
    await server.close();
  };
  try {
    await supervisor.start();
    controlServer = new ControlServer(supervisor, {
      listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      metrics: { defaultMetrics: false },
      ...control,
    });
    const address = await controlServer.listen();
    const base = address.kind === 'tcp' ? `http://127.0.0.1:${address.port}` : '';
    return { dir, gearman, jobServer: server, supervisor, control: controlServer, client, base, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Parsed JSON from the API: tests read it by path and let the assertions check the shape. */
// biome-ignore lint/suspicious/noExplicitAny: replies are checked by toMatchObject, not by types
export type Json = any;

/** A JSON request to the control API, answering status and parsed body. */
export async function call(
  base: string,
  method: 'GET' | 'POST',
  pathname: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { ...options.headers };
  if (method === 'POST' && !('content-type' in headers)) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${pathname}`, {
    method,
    headers,
    ...(method === 'POST' ? { body: JSON.stringify(options.body ?? {}) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

/** Polls `check` every 25 ms until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** An IPv4 address of this machine that is not loopback (the one `hostname -I` lists first). */
export const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
