import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { rejectedIssues } from '../helpers/manifest-problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-box-'));
writeFileSync(path.join(dir, 'work.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');

function parse(text: string) {
  return parseManifest(text, file, { env: {} });
}

/** The problems as the CLI prints them, one line each. */
function problems(text: string): string[] {
  return rejectedIssues(() => parse(text));
}

describe('the box budget and rate limits in the manifest', () => {
  it('reads box, weight, cpu and rateLimit', () => {
    const manifest = parse(
      [
        'box: { slots: 8, cpuSlots: 2, memoryMb: 4096 }',
        'functions:',
        '  resize: { handler: ./work.js, concurrency: 4, weight: 3, cpu: true }',
        '  mail: { command: [cat], rateLimit: { jobs: 100, per: 1m } }',
        '',
      ].join('\n'),
    );
    expect(manifest.box).toEqual({ slots: 8, cpuSlots: 2, memoryMb: 4096 });
    expect(manifest.functions[0]).toMatchObject({ weight: 3, cpu: true });
    expect(manifest.functions[1]).toMatchObject({ rateLimit: { jobs: 100, perMs: 60_000 } });
    expect(manifest.functions[1]).not.toHaveProperty('weight');
  });

  it('leaves the box unbounded when the manifest has no box', () => {
    expect(parse('functions:\n  a: { handler: ./work.js }\n').box).toEqual({});
  });

  it('refuses bad values at their line and column', () => {
    const lines = problems(
      [
        'box:',
        '  slots: 0',
        '  memoryMB: 100',
        'functions:',
        '  a:',
        '    handler: ./work.js',
        '    weight: 1.5',
        '    cpu: yes',
        '    rateLimit: { jobs: 0, per: 10 }',
        '  b:',
        '    command: [cat]',
        '    rateLimit: { jobs: 5 }',
        '',
      ].join('\n'),
    );
    expect(lines).toEqual([
      `${file}:2:10: box.slots: expected a whole number from 1 to 100000, got 0`,
      `${file}:3:3: box.memoryMB: unknown setting "memoryMB" (did you mean "memoryMb"?); expected one of slots, cpuSlots, memoryMb`,
      `${file}:7:13: functions.a.weight: expected a whole number from 1 to 1000, got 1.5`,
      `${file}:8:10: functions.a.cpu: expected true or false, got "yes"`,
      `${file}:9:24: functions.a.rateLimit.jobs: expected a whole number from 1 to 1000000, got 0`,
      `${file}:9:32: functions.a.rateLimit.per: add a unit: 10s or 10ms`,
      `${file}:12:16: functions.b.rateLimit.per: missing setting "per"`,
    ]);
  });
});
