import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CONCURRENCY } from '../../src/limits.js';
import { usableCores } from '../../src/supervisor/capacity/usable-cores.js';
import { formatIssue, ManifestError } from '../../src/supervisor/manifest/errors.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { FunctionConfig } from '../../src/supervisor/manifest/types.js';

// Issue 15, autoscaling per function: the `concurrency` grammar.

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-concurrency-'));
writeFileSync(path.join(dir, 'title.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const manifest = (concurrency: string): string =>
  `functions:\n  title:\n    handler: ./title.js\n    concurrency: ${concurrency}\n`;

function title(concurrency: string): FunctionConfig {
  const fn = parseManifest(manifest(concurrency), file, { env: {} }).functions[0];
  if (fn === undefined) throw new Error('no function');
  return fn;
}

function problems(concurrency: string): string[] {
  try {
    parseManifest(manifest(concurrency), file, { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).issues.map(formatIssue);
  }
  return [];
}

describe('concurrency in the manifest', () => {
  it('keeps a plain number exactly as before: no range, not auto', () => {
    const fn = title('3');
    expect(fn.concurrency).toBe(3);
    expect('scaling' in fn).toBe(false);
    expect('concurrencyAuto' in fn).toBe(false);
  });

  it('reads a range: the threads are sized for max, the slots move between min and max', () => {
    const fn = title('{ min: 0, max: 4 }');
    expect(fn.concurrency).toBe(4);
    expect(fn.scaling).toEqual({ min: 0, max: 4 });
    expect(fn.concurrencyAuto).toBeUndefined();
  });

  it('reads auto as the usable cores and marks the function as CPU-bound', () => {
    const fn = title('auto');
    expect(fn.concurrency).toBe(usableCores());
    expect(fn.concurrencyAuto).toBe(true);
    expect(fn.scaling).toBeUndefined();
    const ranged = title('{ min: 1, max: auto }');
    expect(ranged.scaling).toEqual({ min: 1, max: usableCores() });
    expect(ranged.concurrencyAuto).toBe(true);
  });

  it('refuses min above max, at the line and column of min', () => {
    const [line, ...rest] = problems('{ min: 5, max: 2 }');
    expect(rest).toEqual([]);
    expect(line).toMatch(/gworker\.yaml:4:\d+/);
    expect(line).toContain('functions.title.concurrency.min');
    expect(line).toContain('min (5) must not be above max (2)');
  });

  it('refuses a range missing a bound, an unknown key, and bounds outside the limits', () => {
    expect(problems('{ max: 2 }')).toEqual([expect.stringContaining('"min" is missing')]);
    expect(problems('{ min: 0, max: 2, step: 1 }')).toEqual([
      expect.stringContaining('unknown setting "step"'),
    ]);
    expect(problems(`{ min: 0, max: ${MAX_CONCURRENCY + 1} }`)).toEqual([
      expect.stringContaining(`functions.title.concurrency.max`),
    ]);
    expect(problems('{ min: -1, max: 2 }')).toEqual([expect.stringContaining('from 0 to')]);
    expect(problems('{ min: 0, max: 0 }')).toEqual([expect.stringContaining('from 1 to')]);
  });

  it('refuses other words and 0 as a fixed count, naming the accepted forms', () => {
    const [line] = problems('many');
    expect(line).toContain('auto');
    expect(line).toContain('{ min, max }');
    expect(problems('0')).toEqual([expect.stringContaining('from 1 to')]);
  });
});

describe('the autoscaler’s timing in the manifest', () => {
  const top = (autoscale: string): string =>
    `autoscale: ${autoscale}\nfunctions:\n  title:\n    handler: ./title.js\n    concurrency: { min: 1, max: 2 }\n`;
  const parse = (autoscale: string) => parseManifest(top(autoscale), file, { env: {} });
  const issues = (autoscale: string): string[] => {
    try {
      parse(autoscale);
    } catch (err) {
      return (err as ManifestError).issues.map(formatIssue);
    }
    return [];
  };

  it('reads interval and scaleDownAfter as durations, and leaves the defaults when absent', () => {
    expect(parse('{ interval: 250ms, scaleDownAfter: 5s }').autoscale).toEqual({
      sampleMs: 250,
      downAfterMs: 5000,
    });
    expect(parseManifest(manifest('2'), file, { env: {} }).autoscale).toBeUndefined();
  });

  it('refuses an interval under 100ms, a bare number, and scaleDownAfter under the interval', () => {
    expect(issues('{ interval: 10ms }')).toEqual([expect.stringContaining('autoscale.interval')]);
    expect(issues('{ interval: 5 }')).toEqual([
      expect.stringMatching(/gworker\.yaml:1:\d+.*autoscale\.interval/),
    ]);
    expect(issues('{ interval: 2s, scaleDownAfter: 1s }')).toEqual([
      expect.stringContaining('autoscale.scaleDownAfter'),
    ]);
  });
});
