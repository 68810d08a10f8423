import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { rejectedIssues } from '../../helpers/manifest-problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-dispatch-'));
writeFileSync(path.join(dir, 'up.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');

function problems(text: string): string[] {
  return rejectedIssues(() => parseManifest(text, file, { env: {} }));
}

describe('dispatch in the manifest', () => {
  it('takes dispatch: thread; supervisor (the default) leaves it out', () => {
    const manifest = parseManifest(
      'functions:\n  a: { handler: ./up.js, dispatch: thread, concurrency: 4, timeout: 2s }\n  b: { handler: ./up.js, dispatch: supervisor }\n',
      file,
      { env: {} },
    );
    expect(manifest.functions[0]).toMatchObject({ dispatch: 'thread', concurrency: 4, timeoutMs: 2000 });
    expect(manifest.functions[1]).not.toHaveProperty('dispatch');
  });

  it('refuses what dispatch: thread cannot honour, each at its FILE:LINE:COLUMN', () => {
    const found = problems(
      [
        'functions:',
        '  a:',
        '    handler: ./up.js',
        '    dispatch: thread',
        '    retry: { attempts: 3 }',
        '    rateLimit: 10/s',
        '    prefetch: 1',
        '    weight: 2',
        '    cpu: true',
        '    isolation: thread',
        '    minThreads: 1',
        '    concurrency: { min: 0, max: 4 }',
        '',
      ].join('\n'),
    );
    const at = (line: number, key: string) =>
      expect(
        found.some(
          (p) =>
            p.includes(`${file}:${line}:`) && p.includes(`"${key}" does not apply with dispatch: thread`),
        ),
      ).toBe(true);
    at(5, 'retry');
    at(6, 'rateLimit');
    at(7, 'prefetch');
    at(8, 'weight');
    at(9, 'cpu');
    at(10, 'isolation');
    at(11, 'minThreads');
    expect(
      found.some((p) => p.includes(`${file}:12:25:`) && p.includes('dispatch: thread needs min: 1 or more')),
    ).toBe(true);
  });

  it('takes a concurrency range (min 1 or more) and auto, which it resizes in place', () => {
    const manifest = parseManifest(
      'functions:\n  a: { handler: ./up.js, dispatch: thread, concurrency: { min: 1, max: 6 } }\n  b: { handler: ./up.js, dispatch: thread, concurrency: auto }\n',
      file,
      { env: {} },
    );
    expect(manifest.functions[0]).toMatchObject({
      dispatch: 'thread',
      concurrency: 6,
      scaling: { min: 1, max: 6 },
    });
    expect(manifest.functions[1]).toMatchObject({ dispatch: 'thread', concurrencyAuto: true });
  });

  it('refuses the top-level retry reaching a dispatch: thread function, and a misspelt mode', () => {
    expect(
      problems('retry: { attempts: 2 }\nfunctions:\n  a: { handler: ./up.js, dispatch: thread }\n').join(
        '\n',
      ),
    ).toMatch(/:3:\d+.*top-level "retry" applies to this function, and dispatch: thread cannot retry/);
    expect(problems('functions:\n  a: { handler: ./up.js, dispatch: threads }\n').join('\n')).toMatch(
      /expected supervisor or thread/,
    );
  });

  it('refuses dispatch: thread beside box.slots, which it could not share', () => {
    expect(
      problems('box: { slots: 4 }\nfunctions:\n  a: { handler: ./up.js, dispatch: thread }\n').join('\n'),
    ).toMatch(/:3:\d+.*box.slots is set, and a dispatch: thread function takes its jobs outside/);
  });

  it('refuses dispatch on a command function', () => {
    expect(problems('functions:\n  a: { command: [cat], dispatch: thread }\n').join('\n')).toMatch(
      /"dispatch" does not apply to a command function/,
    );
  });
});
