import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { serverIndexForUnique } from '../../src/client/server-picker.js';
import { ErrorCode } from '../../src/errors.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { functionStatus, startPhpWorker } from './peer-workers.js';

describeWithPeers(['gearmand', 'php'], 'Client with two gearmand servers', () => {
  let a: GearmandHandle;
  let b: GearmandHandle;
  const clients: Client[] = [];
  const client = (): Client => {
    const made = new Client({ servers: [a.address, b.address] });
    clients.push(made);
    return made;
  };
  const total = async (server: GearmandHandle, fn: string): Promise<number> =>
    (await functionStatus(server.port)).get(fn)?.total ?? 0;
  const uniques = Array.from({ length: 30 }, (_, i) => `order-${i}`);
  const onB = uniques.filter((unique) => serverIndexForUnique(unique, '', 2) === 1);

  beforeAll(async () => {
    // Distinct handle prefixes: two gearmands on one host would both hand out H:<host>:1.
    [a, b] = await Promise.all([
      startGearmand(['--job-handle-prefix=A']),
      startGearmand(['--job-handle-prefix=B']),
    ]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await killAll();
  });

  it('sends each unique to the server its hash names, the same from every client', async () => {
    // The hash must actually spread these uniques, or the test proves nothing.
    expect(onB.length).toBeGreaterThan(5);
    expect(onB.length).toBeLessThan(25);
    const first = client();
    const handles = await Promise.all(
      uniques.map((unique) => first.submitBackground('spread', 'x', { unique })),
    );
    expect(await total(a, 'spread')).toBe(uniques.length - onB.length);
    expect(await total(b, 'spread')).toBe(onB.length);

    // Another client with the same server list lands on the same jobs: they coalesce.
    const second = client();
    const again = await Promise.all(
      uniques.map((unique) => second.submitBackground('spread', 'y', { unique })),
    );
    expect(again).toEqual(handles);
    expect(await total(a, 'spread')).toBe(uniques.length - onB.length);
    expect(await total(b, 'spread')).toBe(onB.length);
    for (const unique of uniques) expect((await second.getStatusUnique(unique)).known).toBe(true);
  });

  it('spreads jobs without a unique round-robin', async () => {
    const c = client();
    for (let i = 0; i < 10; i++) await c.submitBackground('no-unique', String(i));
    expect(await total(a, 'no-unique')).toBe(5);
    expect(await total(b, 'no-unique')).toBe(5);
  });

  it('asks the server that created a background job for its status', async () => {
    const c = client();
    const handle = await c.submitBackground('status-here', 'x', { unique: onB[0] as string });
    expect(handle.startsWith('B:')).toBe(true);
    expect(await c.getStatus(handle)).toMatchObject({ handle, known: true, running: false });
    expect(await c.getStatus(handle, { server: a.address })).toMatchObject({ known: false });
    expect(await c.getStatus(handle, { server: b.address })).toMatchObject({ known: true });
  });

  it('fails over to the next server while one is down, and fails with NO_SERVERS when all are', async () => {
    const c = client();
    await startPhpWorker(a.port);
    await b.stop('SIGKILL');
    const moved = onB.slice(0, 5);
    const handles = await Promise.all(moved.map((unique) => c.submitBackground('failover', 'x', { unique })));
    expect(handles).toHaveLength(5);
    expect(await total(a, 'failover')).toBe(5);
    expect((await c.run('title', 'fAILED oVER', { unique: moved[0] as string })).toString()).toBe(
      'Failed Over',
    );
    expect((await c.getStatusUnique(moved[1] as string)).known).toBe(true);

    await a.stop('SIGKILL');
    // A submit written before the client has seen the socket close fails with
    // CONNECTION_CLOSED (the server may have taken it); once it has, NO_SERVERS.
    const codes: string[] = [];
    for (let attempt = 0; attempt < 20 && codes.at(-1) !== ErrorCode.NO_SERVERS; attempt++) {
      codes.push(
        await c.submitBackground('failover', 'x', { unique: 'anything' }).then(
          () => 'created',
          (err: { code: string }) => err.code,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(codes.at(-1)).toBe(ErrorCode.NO_SERVERS);
    expect(codes.every((code) => code === ErrorCode.CONNECTION_CLOSED || code === ErrorCode.NO_SERVERS)).toBe(
      true,
    );
    await expect(c.run('title', 'x')).rejects.toMatchObject({ code: ErrorCode.NO_SERVERS });
  });
});
