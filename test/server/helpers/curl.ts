import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { spawnTracked } from '../../helpers/peers.js';

export interface CurlResult {
  /** curl's exit status: 0, or e.g. 18 for a body cut short, 22 with --fail. */
  readonly exitCode: number;
  /** The final status (after any 100 Continue); 0 when none arrived. */
  readonly status: number;
  /** Lower-cased header names, trailers included. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'gworker-curl-'));
let nextFile = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `curl -sS ARGS` with the headers (and trailers) dumped to a file and the body on
 * stdout, so that neither gets into the other. `input` goes to curl's stdin (for `-d @-`).
 */
export function curl(args: readonly string[], input?: Buffer | string): Promise<CurlResult> {
  const headerFile = join(dir, `headers-${nextFile++}`);
  const child = spawnTracked('curl', ['-sS', '-D', headerFile, ...args]);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      let dump = '';
      try {
        dump = readFileSync(headerFile, 'latin1');
      } catch {
        // no response at all
      }
      resolve({ exitCode: code ?? -1, ...parseHeaderDump(dump), body: Buffer.concat(out), stderr });
    });
  });
}

/** Reads curl's header dump: skips 1xx blocks, keeps the last status and every field line. */
function parseHeaderDump(dump: string): { status: number; headers: Record<string, string> } {
  let status = 0;
  const headers: Record<string, string> = {};
  for (const line of dump.split('\r\n')) {
    const statusLine = /^HTTP\/[\d.]+ (\d{3})/.exec(line);
    if (statusLine) {
      status = Number(statusLine[1]);
      for (const key of Object.keys(headers)) delete headers[key];
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/**
 * Starts `curl -sS -N ARGS` (no output buffering) and collects stdout as it comes, for
 * tests that watch a streamed body arrive piece by piece. Killed by killAll().
 */
export function curlStream(args: readonly string[]): {
  readonly child: ChildProcess;
  /** Everything received so far. */
  received(): string;
  /** Resolves once the body received so far contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status. */
  exited: Promise<number>;
} {
  const child = spawnTracked('curl', ['-sS', '-N', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return {
    child,
    received: () => text,
    exited,
    async waitFor(expected, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes(expected)) {
        if (Date.now() > deadline)
          throw new Error(`"${expected}" not received within ${timeoutMs} ms; got "${text}"`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}
