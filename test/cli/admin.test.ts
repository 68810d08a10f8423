import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/table.js';
import { AdminClient } from '../../src/client/admin-client.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { collect, describeWithPeers, freePort, killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';

/** Runs `gworker ...` in-process with captured stdout and stderr. */
const run = (...argv: string[]) => runCliCaptured(argv);

describe('formatTable', () => {
  it('aligns columns two spaces apart, numbers to the right, with no trailing spaces', () => {
    const text = formatTable(
      [{ header: 'NAME' }, { header: 'N', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1', ''],
        ['longer', '1234', 'x'],
      ],
    );
    expect(text).toBe('NAME       N  NOTE\na          1\nlonger  1234  x\n');
  });

  it('shows control characters as escapes so rows stay aligned', () => {
    expect(formatTable([{ header: 'F' }], [['a\tb']])).toBe('F\na\\x09b\n');
  });

  it('prints only the header for no rows', () => {
    expect(formatTable([{ header: 'UNIQUE' }], [])).toBe('UNIQUE\n');
  });
});

describe('gworker admin usage', () => {
  it('prints help with the commands and the default server, exit 0', async () => {
    const { code, stdout } = await run('admin', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('usage: gworker admin');
    expect(stdout).toContain('127.0.0.1:4730');
    for (const command of [
      'status',
      'priority-status',
      'workers',
      'show-jobs',
      'maxqueue FUNC H N L',
      'raw',
    ]) {
      expect(stdout).toContain(command);
    }
  });

  it('is listed in the top-level help', async () => {
    expect((await run('--help')).stdout).toMatch(/^ {2}admin +\S/m);
  });

  it('refuses bad usage with exit 2 before connecting', async () => {
    const cases = [
      ['admin'],
      ['admin', 'frobnicate'],
      ['admin', 'status', 'extra'],
      ['admin', 'cancel-job'],
      ['admin', 'maxqueue', 'fn'],
      ['admin', 'maxqueue', 'fn', '1', '2'],
      ['admin', 'maxqueue', 'fn', 'many'],
      ['admin', 'create-function', 'two words'],
      ['admin', '--timeout', 'soon', 'status'],
      ['admin', '--server', 'host:70000', 'status'],
      ['admin', '--bogus', 'status'],
    ];
    for (const argv of cases) {
      const { code, stderr } = await run(...argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr).toMatch(/^gworker admin: /);
    }
  });

  it('fails with one line on stderr and exit 1 when the server is unreachable', async () => {
    const { code, stdout, stderr } = await run(
      'admin',
      '--server',
      `127.0.0.1:${await freePort()}`,
      'status',
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toContain('cannot connect');
  });
});

describeWithPeers(['gearmand', 'gearman'], 'gworker admin against gearmand 1.1.20', () => {
  let server: GearmandHandle;
  let admin: AdminClient;
  const gearman = (args: string[]) =>
    collect(spawnTracked('gearman', ['-h', '127.0.0.1', '-p', String(server.port), ...args]));

  beforeAll(async () => {
    server = await startGearmand();
    admin = new AdminClient({ server: server.address });
    spawnTracked('gearman', [
      '-h',
      '127.0.0.1',
      '-p',
      String(server.port),
      '-w',
      '-f',
      'cli_echo',
      '--',
      'cat',
    ]);
    await gearman(['-b', '-f', 'cli_backlog', 'one']);
    await gearman(['-b', '-I', '-f', 'cli_backlog', 'two']);
    await gearman(['-b', '-u', 'cli-unique', '-f', 'a_much_longer_function_name', 'three']);
    const deadline = Date.now() + 5000;
    while (!(await admin.status()).some((r) => r.function === 'cli_echo' && r.availableWorkers === 1)) {
      if (Date.now() > deadline) throw new Error('the cli_echo worker did not register');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    await admin?.close();
    await killAll();
  });

  const gw = (...args: string[]) => run('admin', '--server', server.address, ...args);

  it('status prints an aligned table of what the server reports', async () => {
    const { code, stdout, stderr } = await gw('status');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^FUNCTION +TOTAL {2}RUNNING {2}AVAILABLE_WORKERS$/);
    const rows = await admin.status();
    expect(lines).toHaveLength(rows.length + 1);
    // Every line is as wide as the header: the columns line up.
    for (const line of lines) expect(line).toHaveLength((lines[0] as string).length);
    expect(lines).toContainEqual(expect.stringMatching(/^cli_backlog +2 +0 +0$/));
    expect(lines).toContainEqual(expect.stringMatching(/^cli_echo +0 +0 +1$/));
    expect(lines).toContainEqual(expect.stringMatching(/^a_much_longer_function_name +1 +0 +0$/));
  });

  it('--json prints what AdminClient returns', async () => {
    const checks: Array<[string[], () => Promise<unknown>]> = [
      [['status'], () => admin.status()],
      [['priority-status'], () => admin.priorityStatus()],
      [['show-jobs'], () => admin.showJobs()],
      [['show-unique-jobs'], () => admin.showUniqueJobs()],
      [['version'], async () => ({ version: await admin.version() })],
      [['server-version'], async () => ({ version: await admin.version() })],
      [['getpid'], async () => ({ pid: await admin.getPid() })],
      [['verbose'], async () => ({ verbose: await admin.verbose() })],
      [['raw', 'show', 'jobs'], async () => ({ lines: await admin.raw('show jobs') })],
    ];
    for (const [args, expected] of checks) {
      const { code, stdout } = await gw('--json', ...args);
      expect(code, args.join(' ')).toBe(0);
      expect(JSON.parse(stdout), args.join(' ')).toEqual(await expected());
    }
  });

  it('workers lists the registered worker', async () => {
    const { code, stdout } = await gw('workers');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^FD +IP +CLIENT_ID +FUNCTIONS$/);
    expect(stdout).toMatch(/^ *\d+ {2}127\.0\.0\.1 {2}- +cli_echo$/m);
    const json = JSON.parse((await gw('--json', 'workers')).stdout) as Array<{ functions: string[] }>;
    expect(json.some((row) => row.functions.includes('cli_echo'))).toBe(true);
  });

  it('priority-status, show-jobs, show-unique-jobs and the one-value commands print readably', async () => {
    const priority = (await gw('priority-status')).stdout;
    expect(priority).toMatch(/^FUNCTION +HIGH {2}NORMAL {2}LOW {2}WORKERS$/m);
    expect(priority).toMatch(/^cli_backlog +1 +1 +0 +0$/m);
    const jobs = (await gw('show-jobs')).stdout;
    expect(jobs).toMatch(/^HANDLE +RETRIES {2}IGNORE_JOB {2}QUEUED$/m);
    expect(jobs.trimEnd().split('\n')).toHaveLength(4);
    expect(jobs).toMatch(/^H:\S+ +0 {2}no +yes$/m);
    const uniques = (await gw('show-unique-jobs')).stdout.split('\n');
    expect(uniques[0]).toBe('UNIQUE');
    expect(uniques).toContain('cli-unique');
    expect((await gw('version')).stdout).toBe(`${await admin.version()}\n`);
    expect((await gw('getpid')).stdout).toBe(`${await admin.getPid()}\n`);
    expect((await gw('verbose')).stdout).toBe('ERROR\n');
  });

  it('changes the server: create-function, maxqueue, cancel-job, drop-function', async () => {
    expect(await gw('create-function', 'cli_made')).toEqual({ code: 0, stdout: 'OK\n', stderr: '' });
    expect(await admin.status()).toContainEqual({
      function: 'cli_made',
      total: 0,
      running: 0,
      availableWorkers: 0,
    });
    expect((await gw('maxqueue', 'cli_made', '1')).code).toBe(0);
    expect((await gearman(['-b', '-f', 'cli_made', 'x'])).stderr).toBe('');
    expect((await gearman(['-b', '-f', 'cli_made', 'y'])).stderr).toContain('QUEUE_ERROR');
    expect(JSON.parse((await gw('--json', 'maxqueue', 'cli_made', '0', '0', '0')).stdout)).toEqual({
      ok: true,
    });
    expect((await gearman(['-b', '-f', 'cli_made', 'y'])).stderr).toBe('');

    const handle = (await admin.showJobs())[0]?.handle as string;
    expect((await gw('cancel-job', handle)).stdout).toBe('OK\n');
    expect(await admin.showJobs()).toContainEqual(expect.objectContaining({ handle, ignoreJob: true }));

    expect((await gw('create-function', 'cli_dropme')).code).toBe(0);
    expect((await gw('drop-function', 'cli_dropme')).stdout).toBe('OK\n');
    expect((await admin.status()).map((r) => r.function)).not.toContain('cli_dropme');
  });

  it('an ERR reply is one line on stderr and exit 1, in table and JSON mode', async () => {
    for (const json of [[], ['--json']]) {
      const missing = await gw(...json, 'cancel-job', 'H:nowhere:1');
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toBe('gworker admin: admin error UNKNOWN_JOB\n');
    }
    const inUse = await gw('drop-function', 'cli_echo');
    expect(inUse.code).toBe(1);
    expect(inUse.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(inUse.stderr).toContain('FUNCTION_IN_USE');
    const raw = await gw('raw', 'shutdown');
    expect(raw.code).toBe(1);
    expect(raw.stderr).toContain('UNKNOWN_COMMAND');
  });

  it('raw prints the reply lines as the server sent them', async () => {
    const { code, stdout } = await gw('raw', 'STATUS');
    expect(code).toBe(0);
    const expected = (await admin.raw('status')).map((line) => `${line}\n`).join('');
    expect(stdout).toBe(expected);
    expect(stdout).toContain('cli_echo\t0\t0\t1\n');
  });

  it('runs from bin/gworker.js with the same output and exit codes', async () => {
    const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));
    const ok = await collect(spawnTracked(process.execPath, [bin, 'admin', '-s', server.address, 'version']));
    expect(ok).toEqual({ code: 0, stdout: `${await admin.version()}\n`, stderr: '' });
    const bad = await collect(
      spawnTracked(process.execPath, [bin, 'admin', '-s', server.address, 'cancel-job', 'H:nowhere:2']),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('gworker admin: admin error UNKNOWN_JOB\n');
  });
});
