import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { embeddedPort, spawnGworker } from '../helpers/gworker-process.js';
import { freePort, killAll } from '../helpers/peers.js';
import { runCliCaptured as cli } from '../helpers/run-cli.js';
import { type Controlled, eventually, fixtures, startControlled } from '../supervisor/control-fixture.js';

const kToken = 'cli-test-token-0123456789';

let setup: Controlled | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await setup?.close();
  setup = undefined;
  await killAll();
});

const controlArg = (s: Controlled) => ['--control', String((s.control.address as { port: number }).port)];

describe('gworker scale, pause, resume, reload, drain against an in-process supervisor', () => {
  it('pauses a function so a submitted job waits on the server, then resumes it', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const paused = await cli(['pause', 'echo', ...controlArg(setup)]);
    expect(paused).toEqual({
      code: 0,
      stdout: 'echo: paused; 0 job(s) still running will finish\n',
      stderr: '',
    });
    await setup.client.submitBackground('echo', 'queued');
    const admin = new AdminClient({ server: setup.gearman });
    try {
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect((await admin.status())[0]).toMatchObject({ function: 'echo', total: 1, running: 0 });
      expect(await cli(['resume', 'echo', ...controlArg(setup)])).toMatchObject({
        code: 0,
        stdout: 'echo: taking jobs (concurrency 1)\n',
      });
      await eventually(async () => (await admin.status())[0]?.total === 0);
    } finally {
      await admin.close();
    }
    expect(setup.supervisor.functions()[0]?.done).toBe(1);
    const json = await cli(['pause', '--json', 'echo', ...controlArg(setup)]);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'echo', paused: true, done: 1 });
  });

  it('scales a function and says what serves now', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n');
    expect(await cli(['scale', 'echo', '4', ...controlArg(setup)])).toEqual({
      code: 0,
      stdout: 'echo: concurrency 4 (manual), 4 thread(s), generation 1\n',
      stderr: '',
    });
    expect(setup.supervisor.functions()[0]).toMatchObject({ concurrency: 4, threads: 4 });
  });

  it('holds a manual value over a reload, says so, and ends it with scale --auto', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js }\n  ranged: { handler: $FIXTURES/echo.js, concurrency: { min: 1, max: 3 } }\n',
    );
    expect((await cli(['scale', 'ranged', '2', ...controlArg(setup)])).stdout).toBe(
      'ranged: concurrency 2 (manual, range 1..3), 3 thread(s), generation 1\n',
    );
    await cli(['scale', 'echo', '2', ...controlArg(setup)]);
    const reload = await cli(['reload', ...controlArg(setup)]);
    expect(reload.code).toBe(0);
    expect(reload.stdout).toContain('echo: manual concurrency 2 kept (gworker scale echo --auto ends it)\n');
    expect(reload.stdout).toContain(
      'ranged: manual concurrency 2 kept (gworker scale ranged --auto ends it)\n',
    );
    const status = (await cli(['status', '--no-queues', ...controlArg(setup)])).stdout;
    expect(status).toMatch(
      /\n {2}ranged: 2 \(manual, range 1\.\.3\), last 1 -> 2 by manual at \S+: set by hand \(gworker scale, the control API\)\n/,
    );
    expect(await cli(['scale', 'echo', '--auto', ...controlArg(setup)])).toEqual({
      code: 0,
      stdout: 'echo: concurrency 1 (fixed), 1 thread(s), generation 2\n',
      stderr: '',
    });
    expect((await cli(['scale', 'ranged', '--auto', ...controlArg(setup)])).stdout).toBe(
      'ranged: concurrency 2 (auto 1..3), 3 thread(s), generation 2\n',
    );
    expect((await cli(['scale', 'echo', '2', '--auto', ...controlArg(setup)])).code).toBe(2);
  });

  it('exits 1 with the reason for an unknown function, and 2 for bad arguments', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n');
    expect(await cli(['pause', 'nope', ...controlArg(setup)])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'gworker pause: no function named "nope"\n',
    });
    expect((await cli(['scale', 'echo', 'many', ...controlArg(setup)])).code).toBe(2);
    expect((await cli(['scale', 'echo', '0', ...controlArg(setup)])).code).toBe(2);
    expect((await cli(['scale', 'echo', ...controlArg(setup)])).code).toBe(2);
    expect((await cli(['pause', ...controlArg(setup)])).code).toBe(2);
    expect((await cli(['status', '--control', 'no:where:'])).code).toBe(2);
  });

  it('reloads handler code and exits 1 when the new code is rejected', async () => {
    setup = await startControlled(
      '  greet: { handler: $DIR/greet.js, payload: text }\n',
      {},
      {
        'greet.js': "export default (s) => 'hello ' + s;\n",
      },
    );
    writeFileSync(path.join(setup.dir, 'greet.js'), "export default (s) => 'hi ' + s;\n");
    expect(await cli(['reload', ...controlArg(setup)])).toEqual({
      code: 0,
      stdout: 'greet: reloaded, generation 2\n',
      stderr: '',
    });
    expect((await setup.client.run('greet', 'x')).toString()).toBe('hi x');
    writeFileSync(path.join(setup.dir, 'greet.js'), 'export default (s) => {');
    const rejected = await cli(['reload', ...controlArg(setup)]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/^greet: rejected, generation 2 keeps serving: cannot load .*greet\.js/);
  });

  it('needs the token when the supervisor has one: from --token, the environment or the manifest', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { token: kToken });
    const port = (setup.control.address as { port: number }).port;
    const missing = await cli(['status', '--no-queues', '--control', String(port)]);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('missing or wrong token') });
    expect((await cli(['status', '--no-queues', '--control', String(port), '--token', kToken])).code).toBe(0);
    const env = { GWORKER_CONTROL_TOKEN: kToken };
    expect((await cli(['status', '--no-queues', '--control', String(port)], { env })).code).toBe(0);
    // The supervisor's own manifest, now naming its control address and token.
    const file = path.join(setup.dir, 'gworker.yaml');
    writeFileSync(
      file,
      `control:\n  listen: 127.0.0.1:${port}\n  token: ${kToken}\nfunctions:\n  echo: { handler: ${fixtures}echo.js }\n`,
    );
    expect((await cli(['status', '--no-queues', '-c', file])).code).toBe(0);
  });

  it('finds the supervisor from the manifest, and says why when it cannot', async () => {
    const port = await freePort();
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
      listen: { kind: 'tcp', host: '127.0.0.1', port },
    });
    const dir = setup.dir;
    const manifest = (control: string) => {
      // The file the supervisor was started from (it does not read it again).
      const file = path.join(dir, 'gworker.yaml');
      writeFileSync(file, `control: ${control}\nfunctions:\n  echo: { handler: ${fixtures}echo.js }\n`);
      return file;
    };
    const ok = await cli(['pause', 'echo', '-c', manifest(`127.0.0.1:${port}`)]);
    expect(ok.code).toBe(0);
    expect(await cli(['pause', 'echo', '-c', manifest('false')])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('turns the control API off'),
    });
    expect(
      await cli(['pause', 'echo', '-c', manifest('0')], { env: { GWORKER_RUN_DIR: dir } }),
    ).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no running supervisor of'),
    });
    expect(await cli(['pause', 'echo', '-c', path.join(dir, 'missing.yaml')])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('file not found'),
    });
    const closed = await freePort();
    expect(await cli(['resume', 'echo', '--control', String(closed)])).toEqual({
      code: 1,
      stdout: '',
      stderr: `gworker resume: no supervisor answers on 127.0.0.1:${closed}: ECONNREFUSED\n`,
    });
  });

  it('prints each command with --help, naming how the control API is found', async () => {
    for (const command of ['status', 'top', 'scale', 'pause', 'resume', 'reload', 'drain']) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^usage: gworker ${command} `));
      expect(help.stdout, command).toContain('--control ADDR');
      expect(help.stdout, command).toContain('-c, --config FILE');
    }
    expect((await cli(['--help'])).stdout).toMatch(/ {2}drain +stop a running supervisor gracefully/);
  });
});

describe('gworker start serving its control API', () => {
  function project(control: string, files: Record<string, string>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-ctl-start-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    writeFileSync(
      path.join(dir, 'gworker.yaml'),
      `embeddedServer: 0\ncontrol: ${control}\nshutdownTimeout: 5s\nfunctions:\n  greet: { handler: ./greet.js, payload: text }\n`,
    );
    return dir;
  }

  it('reloads the manifest and code on `gworker reload`, and stops on `gworker drain` after running jobs end', async () => {
    const port = await freePort();
    const dir = project(`127.0.0.1:${port}`, {
      'greet.js':
        "export default async (s) => { await new Promise((r) => setTimeout(r, Number(s) || 0)); return 'hello ' + s; };\n",
    });
    const proc = spawnGworker(['start', '--no-watch', path.join(dir, 'gworker.yaml')]);
    const gearman = await embeddedPort(proc);
    await proc.waitForLog((l) => l.msg === `control API on http://127.0.0.1:${port}/`);
    const client = new Client({ servers: [`127.0.0.1:${gearman}`] });
    clients.push(client);
    expect((await client.run('greet', '0')).toString()).toBe('hello 0');

    writeFileSync(
      path.join(dir, 'greet.js'),
      "export default async (s) => { await new Promise((r) => setTimeout(r, Number(s) || 0)); return 'hi ' + s; };\n",
    );
    const config = ['-c', path.join(dir, 'gworker.yaml')];
    expect(await cli(['reload', ...config])).toEqual({
      code: 0,
      stdout: 'manifest applied\ngreet: reloaded, generation 2\n',
      stderr: '',
    });
    expect((await client.run('greet', '0')).toString()).toBe('hi 0');

    // A control change waits for the next start: the API stays where it is.
    const manifestFile = path.join(dir, 'gworker.yaml');
    writeFileSync(
      manifestFile,
      readFileSync(manifestFile, 'utf8').replace(`control: 127.0.0.1:${port}`, 'control: 127.0.0.1:1'),
    );
    expect((await cli(['reload', '--control', String(port)])).code).toBe(0);
    await proc.waitForLog((l) => l.msg.startsWith('control settings changed'));

    writeFileSync(path.join(dir, 'gworker.yaml'), 'functions: [oops\n');
    const rejected = await cli(['reload', '--control', String(port)]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('manifest rejected; the running configuration stays');

    const slow = client.run('greet', '800');
    await eventually(async () => {
      const status = await cli(['status', '--json', '--no-queues', '--control', String(port)]);
      return JSON.parse(status.stdout).functions[0].running === 1;
    });
    const drain = await cli(['drain', '--control', String(port)]);
    expect(drain).toMatchObject({
      code: 0,
      stdout: 'draining: no new jobs; running jobs get up to 5s to finish\nstopped\n',
    });
    expect((await slow).toString()).toBe('hi 800');
    expect(await proc.exited).toBe(0);
    expect(proc.logs.some((l) => l.msg.startsWith('stopping') && l.reason === 'drain (control API)')).toBe(
      true,
    );
  });

  it('refuses to start when the default control port is taken, with a hint', async () => {
    // Hold 127.0.0.1:4731 for the test. Another test's `gworker start` may hold it for a
    // while (it is everyone's default): wait for it, or it could let go just as ours starts.
    const holder = net.createServer();
    const deadline = Date.now() + 15_000;
    for (let held = false; !held && Date.now() < deadline; ) {
      held = await new Promise<boolean>((resolve) => {
        holder.once('error', () => resolve(false));
        holder.listen(4731, '127.0.0.1', () => resolve(true));
      });
      holder.removeAllListeners('error');
      if (!held) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    try {
      const dir = project('true', { 'greet.js': 'export default (s) => s;\n' });
      writeFileSync(
        path.join(dir, 'gworker.yaml'),
        'embeddedServer: 0\nfunctions:\n  greet: { handler: ./greet.js, payload: text }\n',
      );
      const proc = spawnGworker(['start', '--no-watch', path.join(dir, 'gworker.yaml')]);
      expect(await proc.exited).toBe(1);
      const error = proc.logs.find((l) => l.msg.startsWith('control API cannot listen on 127.0.0.1:4731'));
      expect(error?.msg).toContain('in use');
      expect(error?.msg).toContain(
        'set control.listen in the manifest to another port, or to 0 for a free one',
      );
      expect(error?.msg).not.toContain('\n');
    } finally {
      holder.close();
    }
  }, 45_000);

  it('refuses to start when the control address the manifest chose is taken', async () => {
    // The first supervisor takes a port of its own choosing: a port picked by freePort()
    // and released could be handed to its embedded server (port 0) first, as seen once in CI.
    const first = spawnGworker([
      'start',
      '--no-watch',
      path.join(project('127.0.0.1:0', { 'greet.js': 'export default (s) => s;\n' }), 'gworker.yaml'),
    ]);
    const line = await first.waitForLog((l) => l.msg.startsWith('control API on'));
    const port = Number(/:(\d+)\/?$/.exec(line.msg)?.[1]);
    expect(port).toBeGreaterThan(0);
    const second = spawnGworker([
      'start',
      '--no-watch',
      path.join(project(`127.0.0.1:${port}`, { 'greet.js': 'export default (s) => s;\n' }), 'gworker.yaml'),
    ]);
    expect(await second.exited).toBe(1);
    expect(second.logs.some((l) => l.msg.includes(`control API cannot listen on 127.0.0.1:${port}`))).toBe(
      true,
    );
    expect(await cli(['drain', '--control', String(port)])).toMatchObject({ code: 0 });
    expect(await first.exited).toBe(0);
  });
});
