import { afterEach, beforeEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ConnectionError, ErrorCode } from '../../src/errors.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { startPhpWorker } from './peer-workers.js';

describeWithPeers(['gearmand', 'php'], 'Client across a gearmand restart', () => {
  let gearmand: GearmandHandle;
  let client: Client;

  beforeEach(async () => {
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
  });
  afterEach(async () => {
    await client.close();
    await killAll();
  });

  it('fails pending foreground jobs at once when gearmand dies, then submits again once it is back', async () => {
    await startPhpWorker(gearmand.port);
    const running = client.submit('sleep', '8000');
    const queued = client.submit('sleep', '8000');
    await Promise.all([running.created, queued.created]);
    const outcomes = Promise.allSettled([running.result, queued.result]);

    const killedAt = Date.now();
    await gearmand.stop('SIGKILL');
    const [a, b] = await outcomes;
    expect(Date.now() - killedAt).toBeLessThan(2000);
    for (const outcome of [a, b]) {
      expect(outcome?.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(ConnectionError);
      expect(reason).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED, server: gearmand.address });
    }
    expect(running.state).toBe('failed');

    // While it is down, a submit fails fast instead of hanging.
    await expect(client.run('title', 'x')).rejects.toMatchObject({ code: ErrorCode.NO_SERVERS });

    await gearmand.restart();
    await startPhpWorker(gearmand.port);
    expect((await client.run('title', 'bACK aGAIN')).toString()).toBe('Back Again');
    expect(await client.submitBackground('title', 'background too')).toMatch(/^H:/);
  });

  it('sends OPTION_REQ exceptions again on the new connection after a restart', async () => {
    await startPhpWorker(gearmand.port);
    expect((await client.run('title', 'fIRST')).toString()).toBe('First');
    await gearmand.restart();
    await startPhpWorker(gearmand.port);
    // The exceptions option is per connection: the new one must carry it again.
    await expect(client.run('boom', 'after restart')).rejects.toMatchObject({
      code: ErrorCode.JOB_EXCEPTION,
      payload: Buffer.from('boom: after restart'),
    });
  });
});
