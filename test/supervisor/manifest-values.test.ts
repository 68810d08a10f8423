import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue, ManifestError } from '../../src/supervisor/manifest/errors.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { CommandFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { parseDuration } from '../../src/supervisor/manifest/units.js';

// Values in the manifest as a user writes them: durations with units, command lists
// with numbers in them, ${VAR} from the environment (issue 11, "The handler loop").

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-values-'));
writeFileSync(path.join(dir, 'title.js'), 'export default (s) => s;\n');
const file = path.join(dir, 'gworker.yaml');

function parse(text: string, env: NodeJS.ProcessEnv = {}) {
  return parseManifest(text, file, { env });
}

/** The problems as the CLI prints them, one line each. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).issues.map(formatIssue);
  }
  throw new Error('expected the manifest to be rejected');
}

describe('durations in the manifest', () => {
  it('refuses a bare number for every duration setting, at its line and column', () => {
    const lines = problems(
      [
        'shutdownTimeout: 30',
        'embeddedServer:',
        '  resultCache: 60',
        'functions:',
        '  title:',
        '    handler: ./title.js',
        '    timeout: 30',
        '  ls:',
        '    command: [ls]',
        '    timeout: 2.5',
        '',
      ].join('\n'),
    );
    expect(lines).toEqual([
      `${file}:1:18: shutdownTimeout: add a unit: 30s or 30ms`,
      `${file}:3:16: embeddedServer.resultCache: add a unit: 60s or 60ms`,
      `${file}:7:14: functions.title.timeout: add a unit: 30s or 30ms`,
      `${file}:10:14: functions.ls.timeout: add a unit: 2.5s or 2.5ms`,
    ]);
  });

  it('takes durations with a unit, and a bare 0', () => {
    const manifest = parse(
      'shutdownTimeout: 0\nfunctions:\n  title: { handler: ./title.js, timeout: 1.5s }\n  ls: { command: [ls], timeout: 250ms }\n',
    );
    expect(manifest.shutdownTimeoutMs).toBe(0);
    expect(manifest.functions.map((fn) => fn.timeoutMs)).toEqual([1500, 250]);
  });

  it('offers the same parser to command-line flags: text without a unit is refused too', () => {
    expect(parseDuration('30')).toBe('add a unit: 30s or 30ms');
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration(' 2m ')).toBe(120_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-1s')).toMatch(/expected a duration/);
    expect(parseDuration('-3')).toMatch(/zero or more/);
  });
});

describe('command lists', () => {
  it('passes numbers and booleans in a command list as the text written', () => {
    const manifest = parse(
      'functions:\n  ls: { command: [ls, -1] }\n  nap: { command: [sleep, 5] }\n  odd: { command: [printf, 0x10, true, 1.50, 007] }\n',
    );
    const commands = manifest.functions.map((fn) => (fn as CommandFunctionConfig).command);
    expect(commands).toEqual([
      ['ls', '-1'],
      ['sleep', '5'],
      ['printf', '0x10', 'true', '1.50', '007'],
    ]);
  });

  it('passes env values as written too', () => {
    const manifest = parse('functions:\n  ls: { command: [ls], env: { MODE: 0755, DEBUG: yes, N: 1e3 } }\n');
    expect((manifest.functions[0] as CommandFunctionConfig).env).toEqual({
      MODE: '0755',
      DEBUG: 'yes',
      N: '1e3',
    });
  });

  it('still refuses an empty or missing argument at its position', () => {
    expect(problems('functions:\n  ls: { command: [ls, ~, ""] }\n')).toEqual([
      `${file}:2:23: functions.ls.command[1]: expected a non-empty string, got nothing`,
      `${file}:2:26: functions.ls.command[2]: expected a non-empty string, got ""`,
    ]);
  });
});
