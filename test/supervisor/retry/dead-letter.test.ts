import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import type { Supervisor } from '../../../src/supervisor/supervisor.js';
import { describeWithPeers, killAll, spawnTracked } from '../../helpers/peers.js';
import { embeddedServer, flaky, gearmandServer, RetryScratch, type TestServer } from './retry-fixture.js';

const phpWorker = fileURLToPath(new URL('../../fixtures/php/dead-letter-worker.php', import.meta.url));

/** Lines `dead {json}` the PHP worker prints, parsed, as they come. */
function letters(child: ChildProcess): {
  next(ms?: number): Promise<Record<string, unknown>>;
  ready: Promise<void>;
} {
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<(letter: Record<string, unknown>) => void> = [];
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready();
      if (!line.startsWith('dead ')) continue;
      const letter = JSON.parse(line.slice(5)) as Record<string, unknown>;
      const waiter = waiters.shift();
      if (waiter) waiter(letter);
      else queue.push(letter);
    }
  });
  return {
    ready: readyPromise,
    next: (ms = 15_000) =>
      new Promise((resolve, reject) => {
        const queued = queue.shift();
        if (queued) return resolve(queued);
        const timer = setTimeout(() => reject(new Error(`no dead letter within ${ms} ms`)), ms);
        waiters.push((letter) => {
          clearTimeout(timer);
          resolve(letter);
        });
      }),
  };
}

function suite(startServer: () => Promise<TestServer>): void {
  let server: TestServer;
  let scratch: RetryScratch;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    await supervisor?.close({ force: true });
    await killAll();
    await server?.stop();
    scratch?.remove();
  });

  async function start() {
    server = await startServer();
    scratch = new RetryScratch();
    const port = server.address.split(':')[1] as string;
    const php = spawnTracked('php', [phpWorker, port, 'flaky.dead'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const inbox = letters(php);
    await inbox.ready;
    supervisor = await scratch.supervisor(
      scratch.manifest(
        server.address,
        `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 1s }, deadLetter: flaky.dead }\n`,
        'clientId: box-7\n',
      ),
    );
    client = new Client({ servers: [server.address] });
    return { client, inbox };
  }

  it('sends the final failure of a background job to a PHP worker of the dead-letter function, with every field', async () => {
    const { client, inbox } = await start();
    const before = Date.now();
    const task = scratch.task({ fail: 5 });
    await client.submitBackground('flaky', task, { unique: 'order-9' });
    const letter = await inbox.next();
    expect(letter).toMatchObject({
      format: 'gworker.dead-letter/1',
      function: 'flaky',
      unique: 'order-9',
      server: server.address,
      payloadEncoding: 'utf8',
      payload: task,
      attempts: 2,
      box: { clientId: 'box-7', hostname: expect.any(String) },
    });
    expect(letter.handle).toMatch(/^H:/);
    const errors = letter.errors as Array<Record<string, unknown>>;
    expect(errors.map((e) => [e.attempt, e.cause, e.name, e.message, e.box])).toEqual([
      [1, 'exception', 'Error', 'attempt 1 fails', 'box-7'],
      [2, 'exception', 'Error', 'attempt 2 fails', 'box-7'],
    ]);
    expect(errors.every((e) => typeof e.stack === 'string' && (e.stack as string).includes('flaky.js'))).toBe(
      true,
    );
    const times = ['firstFailedAt', 'lastFailedAt', 'deadLetteredAt'].map((k) =>
      Date.parse(letter[k] as string),
    );
    expect(times.every((t) => t >= before - 1000 && t <= Date.now())).toBe(true);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(900);
    expect(scratch.attempts()).toHaveLength(2);
  }, 30_000);

  it('sends a payload that is not UTF-8 as base64, and a permanent error at once', async () => {
    const { client, inbox } = await start();
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]);
    await client.submitBackground('flaky', bytes, { unique: 'binary' });
    const letter = await inbox.next();
    expect(letter).toMatchObject({ unique: 'binary', payloadEncoding: 'base64', attempts: 2 });
    expect(Buffer.from(letter.payload as string, 'base64').equals(bytes)).toBe(true);
    await client.submitBackground('flaky', scratch.task({ fail: 5, how: 'permanent' }), { unique: 'perm' });
    const permanent = await inbox.next();
    expect(permanent).toMatchObject({ unique: 'perm', attempts: 1 });
    expect((permanent.errors as Array<{ message: string }>)[0]?.message).toBe('no point trying again');
  }, 30_000);
}

describeWithPeers(['php'], 'dead letters on the embedded server', () => suite(embeddedServer));
describeWithPeers(['gearmand', 'php'], 'dead letters on gearmand 1.1.20', () => suite(gearmandServer));
