import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GearmanServer } from '../../../src/server/server.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import type { Manifest } from '../../../src/supervisor/manifest/types.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { startGearmand } from '../../helpers/gearmand.js';

export const flaky = fileURLToPath(new URL('../../fixtures/handlers/flaky.js', import.meta.url));

/** A job server a retry test runs against: the real gearmand 1.1.20 or the embedded one. */
export interface TestServer {
  readonly address: string;
  stop(): Promise<void>;
}

export async function embeddedServer(): Promise<TestServer> {
  const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  return { address: `127.0.0.1:${port}`, stop: () => server.close() };
}

export async function gearmandServer(): Promise<TestServer> {
  const gearmand = await startGearmand();
  return { address: gearmand.address, stop: () => gearmand.stop() };
}

export interface Attempt {
  readonly attempt: number;
  readonly unique: string;
  readonly handle: string;
  readonly at: number;
}

/** A scratch folder with the attempt log the flaky handler writes, and manifests. */
export class RetryScratch {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'gworker-retry-'));
  readonly log = path.join(this.dir, 'attempts.jsonl');

  manifest(server: string, functions: string, top = ''): Manifest {
    const file = path.join(this.dir, 'gworker.yaml');
    const text = `servers: ["${server}"]\nconnections: 1\nshutdownTimeout: 5s\ncontrol: false\n${top}functions:\n${functions}`;
    writeFileSync(file, text);
    return parseManifest(text, file, { env: {} });
  }

  /** A supervisor whose connections re-grab every 200 ms (gearmand 1.1.x never wakes them for epoch jobs). */
  async supervisor(manifest: Manifest): Promise<Supervisor> {
    const supervisor = new Supervisor(manifest, { regrabIntervalMs: 200 });
    await supervisor.start();
    return supervisor;
  }

  task(fields: { fail?: number; failRuns?: number; how?: string; holdMs?: number; tag?: string }): string {
    return JSON.stringify({ log: this.log, ...fields });
  }

  attempts(): Attempt[] {
    let text = '';
    try {
      text = readFileSync(this.log, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Attempt);
  }

  /** Polls (every 50 ms, at most `ms`) until `count` attempts were logged. */
  async waitForAttempts(count: number, ms = 10_000): Promise<Attempt[]> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const attempts = this.attempts();
      if (attempts.length >= count) return attempts;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.attempts();
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once `predicate` holds (polled every 50 ms), or false after `ms`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
