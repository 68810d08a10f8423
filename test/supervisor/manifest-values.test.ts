// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the manifest's own ${VAR} syntax, in YAML text
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

describe('${VAR} in manifest values', () => {
  it('substitutes the environment in string values, with defaults', () => {
    const manifest = parse(
      [
        'servers: ["${GEAR_HOST}:4730", "${OTHER_HOST:-gear2}:${OTHER_PORT:-4740}"]',
        'clientId: box-${BOX}',
        'functions:',
        '  ls:',
        '    command: [ls, "${LS_FLAGS}", "${EMPTY:-fallback}"]',
        '    concurrency: ${WORKERS:-3}',
        '    timeout: ${LS_TIMEOUT}',
        '    env: { PRICE: "$$5", HOME_DIR: "${HOME_DIR}", SHELL_VAR: "$HOME" }',
        '',
      ].join('\n'),
      {
        GEAR_HOST: 'gear1.internal',
        BOX: '7',
        LS_FLAGS: '-lh',
        EMPTY: '',
        LS_TIMEOUT: '90s',
        HOME_DIR: '/srv',
      },
    );
    expect(manifest.servers?.map((s) => `${s.host}:${s.port}`)).toEqual([
      'gear1.internal:4730',
      'gear2:4740',
    ]);
    expect(manifest.clientId).toBe('box-7');
    const ls = manifest.functions[0] as CommandFunctionConfig;
    expect(ls.command).toEqual(['ls', '-lh', 'fallback']);
    expect(ls.concurrency).toBe(3);
    expect(ls.timeoutMs).toBe(90_000);
    expect(ls.env).toEqual({ PRICE: '$5', HOME_DIR: '/srv', SHELL_VAR: '$HOME' });
  });

  it('reports an unset variable without a default at its line and column', () => {
    expect(
      problems('servers:\n  - ${GEAR_HOST}:4730\n  - "x:${PORT}"\nfunctions:\n  ls: { command: [ls] }\n'),
    ).toEqual([
      `${file}:2:5: servers[0]: environment variable GEAR_HOST is not set (give a default with \${GEAR_HOST:-value})`,
      `${file}:3:8: servers[1]: environment variable PORT is not set (give a default with \${PORT:-value})`,
    ]);
  });

  it('reports a malformed reference', () => {
    const lines = problems('clientId: "a${1X}"\nfunctions:\n  ls: { command: ["${OPEN"] }\n');
    expect(lines[0]).toMatch(/:1:13: clientId: "\$\{1X\}" is not a variable reference/);
    expect(lines[1]).toMatch(/:3:20: functions\.ls\.command\[0\]: unclosed "\$\{"/);
  });
});
