import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { usableCores } from '../../src/supervisor/capacity/usable-cores.js';
import { runCliCaptured } from '../helpers/run-cli.js';

function manifest(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-check-'));
  writeFileSync(path.join(dir, 'h.js'), 'export default (p) => p;\n');
  const file = path.join(dir, 'gworker.yaml');
  writeFileSync(file, text);
  return file;
}

describe('gworker check', () => {
  it('prints the resolved configuration of a valid manifest', async () => {
    const file = manifest('clientId: box-1\nfunctions:\n  echo: { handler: ./h.js, concurrency: 3 }\n');
    const { code, stdout } = await runCliCaptured(['check', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('servers: none named; the embedded job server runs on 127.0.0.1:4730');
    expect(stdout).toContain('clientId: box-1');
    expect(stdout).toContain(`echo: handler ${path.join(path.dirname(file), 'h.js')}`);
    expect(stdout).toContain('concurrency 3, payload buffer, no timeout');
  });

  it('prints a range and auto concurrency as the autoscaler and the box read them', async () => {
    const file = manifest(
      'functions:\n  ranged: { handler: ./h.js, concurrency: { min: 0, max: 4 } }\n  cores: { handler: ./h.js, concurrency: auto }\n',
    );
    const { code, stdout } = await runCliCaptured(['check', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('concurrency 0..4, autoscaled, payload buffer');
    expect(stdout).toMatch(/concurrency auto \(\d+ usable cores\), payload buffer/);
  });

  it('prints how much output a command may produce, 64 MiB unless maxOutput says', async () => {
    const file = manifest(
      'functions:\n  ls: { command: [ls] }\n  cat: { command: [cat], maxOutput: 8MiB }\n',
    );
    const { code, stdout } = await runCliCaptured(['check', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('output result, at most 64MiB');
    expect(stdout).toContain('output result, at most 8MiB');
  });

  it('never prints secrets in --json', async () => {
    const file = manifest(
      'control:\n  listen: 127.0.0.1:4799\n  token: a-very-secret-token-123\nfunctions:\n  echo: { handler: ./h.js }\n',
    );
    const { code, stdout } = await runCliCaptured(['check', '--json', file]);
    expect(code).toBe(0);
    expect(stdout).not.toContain('a-very-secret-token-123');
    expect(JSON.parse(stdout).control).toMatchObject({ token: true });
  });

  it('exits 1 and lists every problem of an invalid manifest', async () => {
    const file = manifest('functions:\n  a: { handler: ./missing.js, concurrency: 0 }\n');
    const { code, stderr } = await runCliCaptured(['check', file]);
    expect(code).toBe(1);
    expect(stderr).toContain('invalid manifest (2 problems)');
    expect(stderr).toContain(`${file}:2:`);
  });
});

describe('gworker check with retries', () => {
  it('prints each function retry and dead letter, and the failure store', async () => {
    const file = manifest(
      'failures: { store: f.db, keep: 50 }\nretry: { attempts: 4, backoff: fixed, delay: 2s }\nfunctions:\n  a: { handler: ./h.js, deadLetter: a.dead }\n  b: { handler: ./h.js, retry: { jitter: 0.5, on: [timeout] } }\n  c: { handler: ./h.js, retry: false }\n',
    );
    const { code, stdout } = await runCliCaptured(['check', file]);
    expect(code).toBe(0);
    expect(stdout).toContain(`failures: ${path.join(path.dirname(file), 'f.db')} (keep 50)`);
    expect(stdout).toContain(
      '    retry: 4 attempts, every 2s, on exception, fail, timeout, crash; dead letter to a.dead\n',
    );
    expect(stdout).toContain('    retry: 3 attempts, from 1s doubling up to 1h, jitter 0.5, on timeout\n');
    expect(stdout).not.toMatch(/c: handler [^\n]+\n[^\n]+\n {4}retry/);
  });

  it('refuses a retry that makes no sense at its line and column', async () => {
    const file = manifest('functions:\n  a: { handler: ./h.js, retry: { attempts: 0 } }\n');
    const { code, stderr } = await runCliCaptured(['check', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      ':2:44: functions.a.retry.attempts: expected a whole number from 1 to 100, got 0',
    );
  });
});

describe('gworker check with a box budget', () => {
  it('prints the box budget, the default CPU slots filled in, and each function weight, cpu and rate limit', async () => {
    const file = manifest(
      'box: { slots: 6, memoryMb: 2048 }\nfunctions:\n  a: { handler: ./h.js, weight: 3, cpu: true }\n  b: { command: [cat], rateLimit: { jobs: 100, per: 1m } }\n',
    );
    const { code, stdout } = await runCliCaptured(['check', file]);
    expect(code).toBe(0);
    const cores = usableCores();
    expect(stdout).toContain(
      `box: 6 job(s) at once in all; CPU-bound functions ${cores} at once (the usable cores); no new jobs while resident over 2048 MiB\n`,
    );
    expect(stdout).toContain('    weight 3, CPU-bound\n');
    expect(stdout).toContain('    at most 100 job(s) per 1m\n');
    const json = JSON.parse((await runCliCaptured(['check', '--json', file])).stdout);
    expect(json.box).toEqual({ slots: 6, memoryMb: 2048, cpuSlots: cores });
  });
});
