import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { retryDelayMs } from '../../../src/supervisor/retry/policy.js';
import { rejectedIssues } from '../../helpers/manifest-problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-retry-settings-'));
writeFileSync(path.join(dir, 'h.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');

function parse(text: string) {
  return parseManifest(text, file, { env: {} });
}

function problems(text: string): string[] {
  return rejectedIssues(() => parse(text));
}

describe('retry and deadLetter settings', () => {
  it('reads a function retry with units, and fills in what is left out', () => {
    const manifest = parse(
      'functions:\n  a: { handler: h.js, retry: { attempts: 5, delay: 2s, maxDelay: 1m, jitter: 0.2, on: [exception, timeout] }, deadLetter: a.dead }\n  b: { handler: h.js, retry: {} }\n',
    );
    expect(manifest.functions[0]).toMatchObject({
      retry: {
        attempts: 5,
        backoff: 'exponential',
        delayMs: 2000,
        maxDelayMs: 60_000,
        jitter: 0.2,
        on: ['exception', 'timeout'],
      },
      deadLetter: 'a.dead',
    });
    expect(manifest.functions[1]?.retry).toEqual({
      attempts: 3,
      backoff: 'exponential',
      delayMs: 1000,
      maxDelayMs: 3_600_000,
      jitter: 0,
      on: ['exception', 'fail', 'timeout', 'crash'],
    });
  });

  it('applies a top-level retry to every function that sets none; retry: false turns it off', () => {
    const manifest = parse(
      'retry: { attempts: 4, backoff: fixed, delay: 500ms }\nfunctions:\n  a: { handler: h.js }\n  b: { handler: h.js, retry: false }\n  c: { handler: h.js, retry: { attempts: 2 } }\n',
    );
    const [a, b, c] = manifest.functions;
    expect(a?.retry).toMatchObject({ attempts: 4, backoff: 'fixed', delayMs: 500 });
    expect(b?.retry).toBeUndefined();
    expect(c?.retry).toMatchObject({ attempts: 2, backoff: 'exponential', delayMs: 1000 });
  });

  it('refuses settings that make no sense, each at its line and column', () => {
    const lines = problems(
      [
        'retry: { attempts: 0 }',
        'functions:',
        '  a:',
        '    handler: h.js',
        '    retry: { delay: 10s, maxDelay: 5s, on: [exception, meltdown], backoff: linear, jitter: 2 }',
        '  b: { handler: h.js, retry: { delay: 3 }, deadLetter: b }',
        '  c: { handler: h.js, retry: { attemps: 3 } }',
      ].join('\n'),
    );
    expect(lines).toEqual([
      `${file}:1:20: retry.attempts: expected a whole number from 1 to 100, got 0`,
      `${file}:5:36: functions.a.retry.maxDelay: maxDelay must be at least delay (10000 ms), got 5000 ms`,
      `${file}:5:56: functions.a.retry.on: unknown cause "meltdown"; expected exception, fail, timeout, crash`,
      `${file}:5:76: functions.a.retry.backoff: expected exponential (delay doubles per retry) or fixed`,
      `${file}:5:92: functions.a.retry.jitter: expected a share of each wait from 0 to 1 (0.2: 80% to 100% of it)`,
      `${file}:6:39: functions.b.retry.delay: add a unit: 3s or 3ms`,
      `${file}:6:56: functions.b.deadLetter: the dead-letter function must be another function (a failure would feed itself)`,
      `${file}:7:32: functions.c.retry.attemps: unknown setting "attemps" (did you mean "attempts"?); expected one of attempts, backoff, delay, maxDelay, jitter, on`,
    ]);
  });
});

describe('failures settings', () => {
  it('resolves the store against the manifest folder, keeps 10000 by default, and refuses what is wrong', () => {
    expect(parse('failures: { store: f.db }\nfunctions:\n  a: { handler: h.js }\n').failures).toEqual({
      store: path.join(dir, 'f.db'),
      keep: 10_000,
    });
    expect(problems('failures: { keep: 0 }\nfunctions:\n  a: { handler: h.js }\n')).toEqual([
      `${file}:1:11: failures.store: missing setting "store" (an SQLite file)`,
      `${file}:1:19: failures.keep: expected a whole number from 1 to 10000000, got 0`,
    ]);
  });
});

describe('retry delays', () => {
  const policy = { attempts: 10, delayMs: 1000, maxDelayMs: 5000, jitter: 0, on: [] } as const;

  it('doubles from delay with exponential backoff, up to maxDelay', () => {
    const delays = [2, 3, 4, 5, 6].map((next) => retryDelayMs({ ...policy, backoff: 'exponential' }, next));
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('keeps delay with fixed backoff, and jitter takes off at most its share', () => {
    expect(retryDelayMs({ ...policy, backoff: 'fixed' }, 5)).toBe(1000);
    const jittered = { ...policy, backoff: 'fixed', jitter: 0.2 } as const;
    expect(retryDelayMs(jittered, 2, () => 0)).toBe(1000);
    expect(retryDelayMs(jittered, 2, () => 0.999999)).toBe(800);
  });
});
