import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandFunctionConfig } from '../../src/supervisor/manifest/types.js';
import type { ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runCommand } from '../../src/supervisor/runtime/command-runner.js';

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
