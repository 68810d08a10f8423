import { describe, expect, it } from 'vitest';
import { PacketType, packetTypeName } from '../../src/protocol/constants.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

// Issue 16, item 2: every submit of a connection is read into that connection's one
// SubmitRecord. What one submit set (a reducer, an epoch time, a priority, a unique)
// must not stay for the next.
describe('submits on one connection', () => {
  it('each get only their own unique, reducer, priority and time', async () => {
    const { port } = await startServer();
    const client = await RawClient.connect(port);
    const later = String(Math.floor(Date.now() / 1000) + 3600);
    // Without the aggregator, as PROTOCOL documents it (libgearman's framing is in conformance/jobs).
    client.send(PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', 'u-1', 'reducer', 'a']);
    client.send(PacketType.SUBMIT_JOB_EPOCH, ['f', 'u-2', later, 'b']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['f', '', 'c']);
    client.send(PacketType.SUBMIT_JOB_EPOCH, ['f', '', '0', 'd']);
    client.send(PacketType.SUBMIT_JOB_BG, ['f', '', 'e']);
    const handles: string[] = [];
    for (let i = 0; i < 5; i++) handles.push(texts(await client.expect(PacketType.JOB_CREATED))[0] as string);
    const [a, , c, d, e] = handles;

    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['f']);
    const assigned: string[][] = [];
    for (let i = 0; i < 5; i++) {
      worker.send(PacketType.GRAB_JOB_ALL);
      const packet = await worker.next();
      assigned.push([packetTypeName(packet.type), ...texts(packet)]);
    }
    // HIGH first, then NORMAL in submit order; only the reduce job has a reducer (JOB_ASSIGN_ALL);
    // the job an hour ahead waits, and the epoch job "now" after it runs at once.
    expect(assigned).toEqual([
      ['JOB_ASSIGN_UNIQ', c, 'f', '', 'c'],
      ['JOB_ASSIGN_ALL', a, 'f', 'u-1', 'reducer', 'a'],
      ['JOB_ASSIGN_UNIQ', d, 'f', '', 'd'],
      ['JOB_ASSIGN_UNIQ', e, 'f', '', 'e'],
      ['NO_JOB'],
    ]);
  });
});
