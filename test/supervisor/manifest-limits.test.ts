import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { durationValue, integerValue, OptionValueError } from '../../src/cli/args/option-values.js';
import { MAX_CONCURRENCY, MAX_TIMER_MS } from '../../src/limits.js';
import { formatIssue, ManifestError } from '../../src/supervisor/manifest/errors.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { resolveWorkerOptions } from '../../src/worker/options.js';

// The bounds in src/limits.ts, as each part that reads them enforces them (issue 16, item 4).

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-limits-'));
writeFileSync(path.join(dir, 'title.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(text: string): string[] {
  try {
    parseManifest(text, file, { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).issues.map(formatIssue);
  }
  return [];
}

const fn = (settings: string): string => `functions:\n  title:\n    handler: ./title.js\n    ${settings}\n`;

describe('the shared limits', () => {
  it('refuses a function timeout past 2^31-1 ms, which Node would fire after 1 ms', () => {
    expect(problems(fn('timeout: 596h'))).toEqual([]); // 2,145,600,000 ms: under the limit
    const [line, ...rest] = problems(fn('timeout: 597h')); // 2,149,200,000 ms
    expect(rest).toEqual([]);
    expect(line).toContain('functions.title.timeout');
    expect(line).toContain(`${MAX_TIMER_MS}ms`);
    expect(line).toContain(':4:');
  });

  it('bounds concurrency at MAX_CONCURRENCY in the manifest and in gworker scale', () => {
    expect(problems(fn(`concurrency: ${MAX_CONCURRENCY}`))).toEqual([]);
    expect(problems(fn(`concurrency: ${MAX_CONCURRENCY + 1}`))).toEqual([
      expect.stringContaining(`from 1 to ${MAX_CONCURRENCY}`),
    ]);
    expect(integerValue(String(MAX_CONCURRENCY), 1, MAX_CONCURRENCY)).toBe(MAX_CONCURRENCY);
  });

  it('bounds a CLI duration and a worker delay at MAX_TIMER_MS', () => {
    expect(durationValue(`${MAX_TIMER_MS}ms`)).toBe(MAX_TIMER_MS);
    expect(() => durationValue(`${MAX_TIMER_MS + 1}ms`)).toThrow(OptionValueError);
    expect(() => durationValue('597h')).toThrow(/at most 24 days/);
    expect(() => resolveWorkerOptions({ regrabIntervalMs: MAX_TIMER_MS + 1 })).toThrow(
      new RegExp(`to ${MAX_TIMER_MS}`),
    );
  });
});
