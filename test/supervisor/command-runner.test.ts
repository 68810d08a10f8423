import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandFunctionConfig } from '../../src/supervisor/manifest/types.js';
import type { ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runCommand } from '../../src/supervisor/runtime/command-runner.js';
import { alive } from '../helpers/processes.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-cmd-'));
writeFileSync(path.join(dir, 'a.txt'), 'hello');
const meta = { handle: 'H:t:9', unique: 'u9', functionName: 'cmd' };

function config(command: string[], overrides: Partial<CommandFunctionConfig> = {}): CommandFunctionConfig {
  return {
    name: 'cmd',
    kind: 'command',
    command,
    cwd: dir,
    env: {},
    output: 'result',
    concurrency: 1,
    payload: 'buffer',
    exceptions: true,
    ...overrides,
  };
}

function sink(): ProgressSink & { chunks: string[] } {
  const chunks: string[] = [];
  return { chunks, status: () => {}, data: (c) => chunks.push(Buffer.from(c).toString()), warning: () => {} };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('runCommand', () => {
  it('returns stdout as the result, run in the configured folder, like gearman -w -f ls -- ls', async () => {
    const outcome = await runCommand(config(['ls']), meta, Buffer.alloc(0), sink());
    expect(outcome.ok && text(outcome.result)).toBe('a.txt\n');
  });

  it('passes the workload on stdin and the job in the environment', async () => {
    const outcome = await runCommand(
      config(
        [
          '/bin/sh',
          '-c',
          'tr a-z A-Z; printf " $GEARMAN_JOB_HANDLE $GEARMAN_UNIQUE $GEARMAN_FUNCTION $GREETING"',
        ],
        {
          env: { GREETING: 'hi' },
        },
      ),
      meta,
      Buffer.from('shout'),
      sink(),
    );
    expect(outcome.ok && text(outcome.result)).toBe('SHOUT H:t:9 u9 cmd hi');
  });

  it('streams stdout as data chunks when output is stream', async () => {
    const s = sink();
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'printf one; sleep 0.1; printf two'], { output: 'stream' }),
      meta,
      Buffer.alloc(0),
      s,
    );
    expect(outcome.ok && text(outcome.result)).toBe('');
    expect(s.chunks.join('')).toBe('onetwo');
  });

  it('fails on a non-zero exit and quotes stderr', async () => {
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'echo broken >&2; exit 3']),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'handler',
      error: { message: '/bin/sh exited with code 3: broken' },
    });
  });

  it('fails clearly when the program does not exist', async () => {
    const outcome = await runCommand(config(['/no/such/program']), meta, Buffer.alloc(0), sink());
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'crash',
      error: { message: expect.stringMatching(/ENOENT/) },
    });
  });

  it('kills the command and its children on timeout', async () => {
    const started = Date.now();
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'sleep 30 & sleep 30; wait'], { timeoutMs: 200 }),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    expect(outcome).toMatchObject({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

/** Waits up to `ms` for `pid` to be gone; true when it is. */
async function gone(pid: number, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

describe('runCommand: output and process groups (issue 10)', () => {
  it('fails a command whose output passes maxOutput, naming the limit, and kills it', async () => {
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const outcome = await runCommand(
      config(['cat', '/dev/zero'], { maxOutputBytes: 1024 * 1024, timeoutMs: 1000 }),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'handler',
      error: { message: 'cat: its output passed maxOutput (1MiB); the command was killed' },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    // Without the cap cat /dev/zero grows the collected output by GBs a second.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });

  it('takes output right up to maxOutput', async () => {
    const outcome = await runCommand(
      config(['head', '-c', '1048576', '/dev/zero'], { maxOutputBytes: 1024 * 1024 }),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    expect(outcome.ok && outcome.result.length).toBe(1024 * 1024);
  });

  it('counts streamed output against maxOutput too', async () => {
    const s = sink();
    const outcome = await runCommand(
      config(['cat', '/dev/zero'], { maxOutputBytes: 256 * 1024, output: 'stream', timeoutMs: 1000 }),
      meta,
      Buffer.alloc(0),
      s,
    );
    expect(outcome).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/maxOutput \(256KiB\)/) },
    });
    expect(s.chunks.join('').length).toBeLessThanOrEqual(256 * 1024);
  });

  it('ends a job promptly when a child it left behind holds stdout, and kills that child', async () => {
    const started = Date.now();
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'sleep 1000 & echo $!; echo hi']),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(outcome.ok).toBe(true);
    const [pid, greeting] = outcome.ok ? text(outcome.result).trim().split('\n') : [];
    expect(greeting).toBe('hi');
    expect(await gone(Number(pid))).toBe(true);
  });

  it('kills what a command left running in its group when it exits (sleep 1000 >/dev/null &)', async () => {
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']),
      meta,
      Buffer.alloc(0),
      sink(),
    );
    const pid = Number(outcome.ok ? text(outcome.result).trim() : Number.NaN);
    expect(pid).toBeGreaterThan(0);
    expect(await gone(pid)).toBe(true);
  });

  it('kills the grandchildren on timeout, not only the command', async () => {
    const s = sink();
    const outcome = await runCommand(
      config(['/bin/sh', '-c', 'sleep 30 & echo $!; sleep 30'], { timeoutMs: 300, output: 'stream' }),
      meta,
      Buffer.alloc(0),
      s,
    );
    expect(outcome).toMatchObject({ ok: false, reason: 'timeout' });
    const pid = Number(s.chunks.join('').trim());
    expect(pid).toBeGreaterThan(0);
    expect(await gone(pid)).toBe(true);
  });

  it('kills the group at once when the shutdown deadline passes, even a command that ignores SIGTERM', async () => {
    const cutoff = new AbortController();
    const s = sink();
    const running = runCommand(
      config(['/bin/sh', '-c', 'trap "" TERM; sleep 30 & echo $!; sleep 30'], { output: 'stream' }),
      meta,
      Buffer.alloc(0),
      s,
      { cutoff: cutoff.signal },
    );
    while (s.chunks.length === 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    cutoff.abort(new Error('cut short at shutdown'));
    const outcome = await running;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'stopped',
      error: { message: 'cut short at shutdown' },
    });
    expect(await gone(Number(s.chunks.join('').trim()))).toBe(true);
  });
});
