import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { JobExceptionError } from '../../../src/errors.js';
import { ControlServer } from '../../../src/supervisor/control/control-server.js';
import type { Supervisor } from '../../../src/supervisor/supervisor.js';
import { runCliCaptured } from '../../helpers/run-cli.js';
import { embeddedServer, eventually, flaky, RetryScratch, type TestServer } from './retry-fixture.js';

describe('failure records', () => {
  let server: TestServer;
  let scratch: RetryScratch;
  let supervisor: Supervisor | undefined;
  let control: ControlServer | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    await control?.close();
    await supervisor?.close({ force: true });
    await server?.stop();
    scratch?.remove();
    supervisor = undefined;
    control = undefined;
  });

  async function start(
    top: string,
  ): Promise<{ client: Client; failed: (...args: string[]) => ReturnType<typeof runCliCaptured> }> {
    server = await embeddedServer();
    scratch = new RetryScratch();
    supervisor = await scratch.supervisor(
      scratch.manifest(
        server.address,
        `  flaky: { handler: ${flaky} }\n`,
        top.replaceAll('$DIR', scratch.dir),
      ),
    );
    control = new ControlServer(supervisor, {
      listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      metrics: { defaultMetrics: false },
    });
    const address = await control.listen();
    const port = String(address.kind === 'tcp' ? address.port : 0);
    client = new Client({ servers: [server.address] });
    return { client, failed: (...args) => runCliCaptured(['failed', ...args, '--control', port]) };
  }

  it('keeps the newest final failures, shows one in full, runs it again and purges', async () => {
    const { client, failed } = await start('failures: { store: $DIR/failures.db, keep: 2 }\n');
    await client.submitBackground('flaky', scratch.task({ failRuns: 1 }), { unique: 'first' });
    await scratch.waitForAttempts(1);
    const fg = await client.run('flaky', scratch.task({ failRuns: 5 }), { unique: 'second' }).catch((e) => e);
    expect(fg).toBeInstanceOf(JobExceptionError);
    await client.submitBackground('flaky', scratch.task({ failRuns: 1 }), { unique: 'third' });
    await scratch.waitForAttempts(3);

    let list = JSON.parse((await failed('list', '--json')).stdout);
    await eventually(async () => {
      list = JSON.parse((await failed('list', '--json')).stdout);
      return list.total === 2;
    });
    // keep: 2, so the oldest ("first") went.
    expect(list.failures.map((f: { unique: string }) => f.unique)).toEqual(['third', 'second']);
    const table = await failed('list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+FUNCTION\s+UNIQUE\s+ATTEMPTS\s+FAILED AT\s+REASON\n/);
    expect(table.stdout).toContain('run 1 fails');

    const third = list.failures[0].id as number;
    const shown = await failed('show', String(third), '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: third,
      function: 'flaky',
      unique: 'third',
      server: server.address,
      attempts: 1,
      payloadEncoding: 'utf8',
      payload: scratch.task({ failRuns: 1 }),
      reason: 'run 1 fails',
      errors: [{ attempt: 1, cause: 'exception', name: 'Error', message: 'run 1 fails' }],
    });
    expect((await failed('show', String(third))).stdout).toMatch(
      /attempt 1 \(exception\) at \S+ on \S+: Error: run 1 fails\n\s*Error: run 1 fails\n\s+at flaky/,
    );

    // Run again: submitted in the background with its unique, it succeeds now; the record goes.
    const again = await failed('retry', String(third), '999999');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(
      new RegExp(`^${third}: flaky submitted again as H:\\S+\\n999999: no such record\\n$`),
    );
    expect(await eventually(() => scratch.attempts().filter((a) => a.unique === 'third').length === 2)).toBe(
      true,
    );
    list = JSON.parse((await failed('list', '--json')).stdout);
    expect(list.failures.map((f: { unique: string }) => f.unique)).toEqual(['second']);

    expect((await failed('retry', '--all', '-f', 'flaky')).stdout).toMatch(/flaky submitted again as H:/);
    // "second" fails again (failRuns 5) and is recorded again; purge clears the store.
    await eventually(async () => JSON.parse((await failed('list', '--json')).stdout).total === 1);
    expect((await failed('purge')).stdout).toBe('purged 1 record(s)\n');
    expect((await failed('list')).stdout).toBe('no failure records\n');
  }, 30_000);

  it('says so when the supervisor keeps no records, and refuses bad requests before connecting', async () => {
    const { failed } = await start('');
    const run = await failed('list');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('keeps no failure records: set failures.store in its manifest');
    expect((await runCliCaptured(['failed', 'retry'])).stderr).toContain(
      'retry takes record IDs, or --all -f FUNCTION',
    );
    expect((await runCliCaptured(['failed', 'retry', '--all'])).code).toBe(2);
    expect((await runCliCaptured(['failed', 'show', 'x'])).stderr).toContain('record id:');
    expect((await runCliCaptured(['failed', 'frobnicate'])).stderr).toContain('unknown action "frobnicate"');
  }, 20_000);

  it('refuses a second supervisor on the same store', async () => {
    await start('failures: { store: $DIR/failures.db }\n');
    const again = scratch.manifest(
      server.address,
      `  flaky: { handler: ${flaky} }\n`,
      `failures: { store: ${path.join(scratch.dir, 'failures.db')} }\n`,
    );
    await expect(scratch.supervisor(again)).rejects.toMatchObject({ code: 'GEARMAN_ERR_STORE' });
  }, 20_000);
});
