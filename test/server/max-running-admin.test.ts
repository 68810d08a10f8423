import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { AdminError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { startServer } from './helpers/own-server.js';
import { RawClient } from './helpers/raw-client.js';

const admins: AdminClient[] = [];

afterEach(async () => {
  await Promise.all(admins.splice(0).map((admin) => admin.close()));
  await killAll();
});

function adminOf(port: number): AdminClient {
  const admin = new AdminClient({ server: `127.0.0.1:${port}` });
  admins.push(admin);
  return admin;
}

describe('maxrunning through AdminClient and gworker admin', () => {
  it('AdminClient.maxRunning sets and removes the cap; a bad cap is refused before sending', async () => {
    const { port } = await startServer();
    const admin = adminOf(port);
    await admin.maxRunning('resize', 3);
    expect(await admin.raw('show maxrunning')).toEqual(['resize\t3\t0\t0']);
    await admin.maxRunning('resize', 0);
    expect(await admin.raw('show maxrunning')).toEqual([]);
    await expect(admin.maxRunning('resize', -1)).rejects.toThrow(RangeError);
    await expect(admin.maxRunning('two words', 1)).rejects.toThrow(TypeError);
  });

  it('the cap set through AdminClient holds back a grab', async () => {
    const { port } = await startServer();
    await adminOf(port).maxRunning('mail', 1);
    const client = await RawClient.connect(port);
    for (const data of ['a', 'b']) {
      await client.send(PacketType.SUBMIT_JOB_BG, ['mail', '', data]).expect(PacketType.JOB_CREATED);
    }
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['mail']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);
    worker.send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.NO_JOB);
  });

  it('gworker admin maxrunning and show-maxrunning, in table and JSON', async () => {
    const { port } = await startServer();
    const gw = (...args: string[]) => runCliCaptured(['admin', '--server', `127.0.0.1:${port}`, ...args]);
    expect(await gw('maxrunning', 'resize', '2')).toEqual({ code: 0, stdout: 'OK\n', stderr: '' });
    expect((await gw('show-maxrunning')).stdout).toBe(
      'FUNCTION  MAX_RUNNING  RUNNING  WAITING\nresize              2        0        0\n',
    );
    expect(JSON.parse((await gw('--json', 'show-maxrunning')).stdout)).toEqual([
      { function: 'resize', maxRunning: 2, running: 0, waiting: 0 },
    ]);
    expect((await gw('maxrunning', 'resize')).code).toBe(0);
    expect(JSON.parse((await gw('--json', 'show-maxrunning')).stdout)).toEqual([]);
    for (const bad of [['maxrunning'], ['maxrunning', 'f', 'two'], ['maxrunning', 'f', '1', '2']]) {
      const { code, stderr } = await gw(...bad);
      expect(code, bad.join(' ')).toBe(2);
      expect(stderr).toMatch(/^gworker admin: /);
    }
  });
});

describeWithPeers(['gearmand'], 'maxrunning on gearmand 1.1.20', () => {
  it('is an unknown command there: the cap is a gworker server extension', async () => {
    const gearmand = await startGearmand();
    const admin = new AdminClient({ server: gearmand.address });
    admins.push(admin);
    const err = await admin.maxRunning('resize', 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).adminCode).toBe('UNKNOWN_COMMAND');
  });
});
