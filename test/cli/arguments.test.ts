import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args/parse-command-line.js';
import { editDistance, nearest } from '../../src/cli/args/suggest.js';
import { commandNames } from '../../src/cli/dispatch.js';
import { runCliCaptured as cli } from '../helpers/run-cli.js';

/** An HTTP server that records every request and answers 404: a stand-in control API. */
async function recordingServer(): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the CLI argument scaffold', () => {
  it('refuses an unknown option of every command with exit status 2 and one line naming it', async () => {
    expect(commandNames()).toHaveLength(13);
    for (const name of commandNames()) {
      const run = await cli([name, '--bogus']);
      expect({ name, ...run }).toEqual({
        name,
        code: 2,
        stdout: '',
        stderr: `gworker ${name}: unknown option --bogus\nRun 'gworker ${name} --help'.\n`,
      });
    }
  });

  it('suggests the option a near miss meant', async () => {
    expect((await cli(['drain', '--wait-timout', '5s'])).stderr).toBe(
      "gworker drain: unknown option --wait-timout (did you mean --wait-timeout?)\nRun 'gworker drain --help'.\n",
    );
    expect((await cli(['status', '--jsno'])).stderr).toContain('(did you mean --json?)');
    expect((await cli(['submit', '--backgroud'])).stderr).toContain('(did you mean --background?)');
    expect((await cli(['stauts'])).stderr).toBe(
      'gworker: unknown command "stauts" (did you mean status?)\nRun \'gworker --help\'.\n',
    );
  });

  it('checks every argument before acting: drain with a bad --wait-timeout sends nothing', async () => {
    const api = await recordingServer();
    try {
      const run = await cli(['drain', '--control', String(api.port), '--wait-timeout', 'abc']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^gworker drain: --wait-timeout: expected a duration such as 30s/);
      const scale = await cli(['scale', 'echo', '0', '--control', String(api.port)]);
      expect(scale.code).toBe(2);
      expect(api.requests).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('names the option whose value is wrong', async () => {
    const top = await cli(['top', '--interval', '0', '--control', '1']);
    expect(top).toMatchObject({ code: 2, stderr: expect.stringMatching(/^gworker top: --interval: /) });
    for (const [argv, message] of [
      [['status', '--control', 'no:where:'], '--control: expected "host:port"'],
      [['status', '--timeout'], '--timeout needs a value (DURATION)'],
      [['status', '--json=yes'], '--json takes no value'],
      [['server', '--port', '70000'], '--port: expected an integer from 0 to 65535, got "70000"'],
      [['submit', '-f', 'x', '-p', 'urgent'], '--priority: expected one of high, normal, low, got "urgent"'],
      [['submit', '-f', 'x', '--window', '4', 'y'], '--window needs --batch'],
      [['start', '--log-level', 'loud'], '--log-level: expected one of trace, debug'],
      [['server', '--result-cache-max-bytes', '12 parsecs'], '--result-cache-max-bytes: expected a size'],
    ] as const) {
      const run = await cli(argv);
      expect({ argv, code: run.code }).toEqual({ argv, code: 2 });
      expect(run.stderr).toContain(`: ${message}`);
    }
  });

  it('takes durations with a unit in every flag, and refuses a bare number', async () => {
    for (const argv of [
      ['submit', '-f', 'x', '--timeout', '30', 'y'],
      ['status', '--timeout', '30'],
      ['top', '--interval', '30'],
      ['drain', '--wait-timeout', '30'],
      ['admin', '--timeout', '30', 'status'],
      ['submit', '-f', 'x', '--batch', '-', '--progress-interval', '30'],
    ]) {
      const run = await cli(argv);
      expect({ argv, code: run.code }).toEqual({ argv, code: 2 });
      expect(run.stderr).toMatch(/: --[a-z-]+: add a unit: 30s or 30ms\n/);
    }
    // The same text means the same time everywhere: 250ms is a quarter second for submit too.
    const down = await cli(['submit', '-f', 'x', '-s', '127.0.0.1:1', '--timeout', '250ms', 'y']);
    expect(down.code).toBe(1);
  });

  it('prints the version from package.json with --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-V']) {
      expect(await cli([flag])).toEqual({ code: 0, stdout: `gworker ${version}\n`, stderr: '' });
    }
    expect((await cli(['--help'])).stdout).toContain('gworker --version');
  });
});

describe('parseCommandLine', () => {
  const options = {
    name: { type: 'string', short: 'n', help: '' },
    flag: { type: 'boolean', short: 'f', help: '' },
    quiet: { type: 'boolean', short: 'q', help: '' },
    count: { type: 'integer', min: 1, max: 10, default: 3, help: '' },
    wait: { type: 'duration', help: '' },
    size: { type: 'size', help: '' },
    tag: { type: 'list', short: 't', help: '' },
  } as const;

  it('reads every form of option and fills in defaults', () => {
    const line = parseCommandLine(options, [
      '-fq',
      '--name=a',
      '-t',
      'x',
      '--tag',
      'y',
      '--wait',
      '1.5s',
      'p',
      '--',
      '--count',
    ]);
    expect(line.values).toEqual({
      name: 'a',
      flag: true,
      quiet: true,
      count: 3,
      wait: 1500,
      size: undefined,
      tag: ['x', 'y'],
    });
    expect(line.positionals).toEqual(['p', '--count']);
    expect([...line.given].sort()).toEqual(['flag', 'name', 'quiet', 'tag', 'wait']);
    expect(parseCommandLine(options, ['--size', '64MiB', '--count', '10', '-n', '-1']).values).toMatchObject({
      size: 64 * 1024 * 1024,
      count: 10,
      name: '-1',
    });
  });

  it('checks each given value, the last one winning', () => {
    expect(parseCommandLine(options, ['--wait', '2m', '--wait', '250ms']).values.wait).toBe(250);
    expect(() => parseCommandLine(options, ['--wait', 'x', '--wait', '1s'])).toThrow(
      '--wait: expected a duration',
    );
    expect(() => parseCommandLine(options, ['--count', '11'])).toThrow(
      '--count: expected an integer from 1 to 10, got "11"',
    );
    expect(() => parseCommandLine(options, ['--name', ''])).toThrow('--name: expected a VALUE, got ""');
    expect(() => parseCommandLine(options, ['-x'])).toThrow('unknown option -x');
  });

  it('sees --help wherever it is', () => {
    expect(parseCommandLine(options, ['--count', 'bad', '-h']).help).toBe(true);
  });
});

describe('near-miss suggestions', () => {
  it('count a swap of neighbours as one edit', () => {
    expect(editDistance('stauts', 'status')).toBe(1);
    expect(editDistance('json', 'jsno')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggest only close names, or the one a prefix starts', () => {
    expect(nearest('wait-timout', ['no-wait', 'wait-timeout', 'timeout'])).toBe('wait-timeout');
    expect(nearest('bogus', ['json', 'config', 'control'])).toBeUndefined();
    expect(nearest('conf', ['config', 'control'])).toBe('config');
    expect(nearest('con', ['config', 'control'])).toBeUndefined();
  });
});
