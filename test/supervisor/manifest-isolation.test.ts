import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { rejectedIssues } from '../helpers/manifest-problems.js';

// Issue 17: isolation, maxRssMb, maxJobsPerProcess and jobsPerProcess in the manifest.

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-isolation-'));
writeFileSync(path.join(dir, 'title.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');

function problems(text: string): string[] {
  return rejectedIssues(() => parseManifest(text, file, { env: {} }));
}

describe('isolation in the manifest', () => {
  it('takes isolation: process with its limits; jobsPerProcess sets the jobs a process runs at once', () => {
    const manifest = parseManifest(
      'functions:\n  title:\n    handler: ./title.js\n    isolation: process\n    maxRssMb: 512\n    maxJobsPerProcess: 100\n    jobsPerProcess: 4\n    prefetch: 1\n',
      file,
      { env: {} },
    );
    expect(manifest.functions[0]).toMatchObject({
      isolation: 'process',
      maxRssMb: 512,
      maxJobsPerProcess: 100,
      jobsPerThread: 4,
      prefetch: 1,
    } satisfies Partial<ModuleFunctionConfig>);
  });

  it('leaves isolation out for threads, the default', () => {
    const manifest = parseManifest(
      'functions:\n  title: { handler: ./title.js, isolation: thread }\n',
      file,
      {
        env: {},
      },
    );
    expect(manifest.functions[0]).not.toHaveProperty('isolation');
  });

  it('refuses each setting where it does not apply, at its line and column', () => {
    const lines = problems(
      [
        'functions:',
        '  a:',
        '    handler: ./title.js',
        '    maxRssMb: 100',
        '    maxJobsPerProcess: 5',
        '  b:',
        '    handler: ./title.js',
        '    isolation: process',
        '    maxJobsPerThread: 5',
        '    jobsPerThread: 2',
        '    maxRssMb: 8',
        '  c:',
        '    handler: ./title.js',
        '    isolation: fork',
        '  d:',
        '    command: [cat]',
        '    isolation: process',
        '',
      ].join('\n'),
    );
    expect(lines).toEqual([
      `${file}:4:15: functions.a.maxRssMb: "maxRssMb" applies only with isolation: process`,
      `${file}:5:24: functions.a.maxJobsPerProcess: "maxJobsPerProcess" applies only with isolation: process`,
      `${file}:9:23: functions.b.maxJobsPerThread: "maxJobsPerThread" does not apply with isolation: process; use "maxJobsPerProcess"`,
      `${file}:10:20: functions.b.jobsPerThread: "jobsPerThread" does not apply with isolation: process; use "jobsPerProcess"`,
      `${file}:11:15: functions.b.maxRssMb: expected a whole number from 16 to 1048576, got 8`,
      `${file}:14:16: functions.c.isolation: expected thread or process`,
      `${file}:17:5: functions.d.isolation: "isolation" does not apply to a command function`,
    ]);
  });
});
