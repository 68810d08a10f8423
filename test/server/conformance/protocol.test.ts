import { expect, it } from 'vitest';
import { PacketType } from '../../../src/protocol/constants.js';
import { describeConformance } from '../helpers/conformance.js';
import { RawClient, describe as show, texts } from '../helpers/raw-client.js';
import { HANDLE_PREFIX } from '../helpers/targets.js';

/** A frame with any magic, type and body (the encoder refuses some of these). */
function frame(magic: 'REQ' | 'RES', type: number, body: string): Buffer {
  const data = Buffer.from(body, 'latin1');
  const header = Buffer.alloc(12);
  header.write(`\0${magic}`, 'latin1');
  header.writeUInt32BE(type, 4);
  header.writeUInt32BE(data.length, 8);
  return Buffer.concat([header, data]);
}

const unknownHandle = `${HANDLE_PREFIX}:424242`;

/** Requests and gearmand 1.1.20's exact replies (recorded from the real server). */
const kReplies: ReadonlyArray<readonly [string, Buffer, string]> = [
  ['ECHO_REQ', frame('REQ', PacketType.ECHO_REQ, 'hello\0world'), 'ECHO_RES hello\\0world'],
  [
    'SUBMIT_JOB_SCHED',
    frame('REQ', PacketType.SUBMIT_JOB_SCHED, 'f\0u\x001\x002\x003\x004\x005\0data'),
    'ERROR INVALID_COMMAND\\0Command not expected',
  ],
  ['ALL_YOURS', frame('REQ', PacketType.ALL_YOURS, ''), 'ERROR INVALID_COMMAND\\0Command not expected'],
  [
    'JOB_CREATED sent to a server',
    frame('REQ', PacketType.JOB_CREATED, 'H:x:1'),
    'ERROR INVALID_COMMAND\\0Command not expected',
  ],
  [
    'NOOP sent to a server',
    frame('REQ', PacketType.NOOP, ''),
    'ERROR INVALID_COMMAND\\0Command not expected',
  ],
  ['a \\0RES packet', frame('RES', PacketType.ECHO_RES, 'x'), 'ERROR INVALID_MAGIC\\0Request magic expected'],
  ['OPTION_REQ exceptions', frame('REQ', PacketType.OPTION_REQ, 'exceptions'), 'OPTION_RES exceptions'],
  ['OPTION_REQ in capitals', frame('REQ', PacketType.OPTION_REQ, 'EXCEPTIONS'), 'OPTION_RES EXCEPTIONS'],
  [
    'OPTION_REQ unknown',
    frame('REQ', PacketType.OPTION_REQ, 'streaming'),
    'ERROR UNKNOWN_OPTION\\0Server does not recognize given option',
  ],
  [
    'a 65-byte unique',
    frame('REQ', PacketType.SUBMIT_JOB, `f\0${'u'.repeat(65)}\0data`),
    'ERROR ARGUMENT_TOO_LARGE\\0Unique value too large',
  ],
  [
    'GET_STATUS unknown',
    frame('REQ', PacketType.GET_STATUS, unknownHandle),
    `STATUS_RES ${unknownHandle}\\00\\00\\00\\00`,
  ],
  [
    'GET_STATUS_UNIQUE unknown',
    frame('REQ', PacketType.GET_STATUS_UNIQUE, 'nope'),
    'STATUS_RES_UNIQUE nope\\00\\00\\00\\00\\00',
  ],
  [
    'WORK_STATUS unknown',
    frame('REQ', PacketType.WORK_STATUS, `${unknownHandle}\x001\x002`),
    'ERROR JOB_NOT_FOUND\\0Job given in work result not found',
  ],
  [
    'WORK_COMPLETE unknown',
    frame('REQ', PacketType.WORK_COMPLETE, `${unknownHandle}\0r`),
    'ERROR JOB_NOT_FOUND\\0Job given in work result not found',
  ],
  [
    'WORK_FAIL unknown',
    frame('REQ', PacketType.WORK_FAIL, unknownHandle),
    'ERROR JOB_NOT_FOUND\\0Job given in work result not found',
  ],
  [
    'WORK_FAIL with a 64-byte handle',
    frame('REQ', PacketType.WORK_FAIL, 'H'.repeat(64)),
    'ERROR ARGUMENT_TOO_LARGE\\0Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf',
  ],
  [
    'WORK_EXCEPTION unknown',
    frame('REQ', PacketType.WORK_EXCEPTION, `${unknownHandle}\0e`),
    'ERROR JOB_NOT_FOUND\\0An exception was received for a job that does not exist',
  ],
  [
    'WORK_DATA unknown',
    frame('REQ', PacketType.WORK_DATA, `${unknownHandle}\0d`),
    'ERROR JOB_NOT_FOUND\\0Job does not exist on server',
  ],
  [
    'WORK_WARNING unknown',
    frame('REQ', PacketType.WORK_WARNING, `${unknownHandle}\0w`),
    'ERROR JOB_NOT_FOUND\\0Job does not exist on server',
  ],
  ['GRAB_JOB with no function', frame('REQ', PacketType.GRAB_JOB, ''), 'NO_JOB'],
  ['GRAB_JOB_UNIQ with no function', frame('REQ', PacketType.GRAB_JOB_UNIQ, ''), 'NO_JOB'],
  ['GRAB_JOB_ALL with no function', frame('REQ', PacketType.GRAB_JOB_ALL, ''), 'NO_JOB'],
];

/** Admin command lines and gearmand 1.1.20's exact replies on an idle server. */
const kAdmin: ReadonlyArray<readonly [string, string]> = [
  ['status', '.'],
  ['STATUS', '.'],
  ['prioritystatus', '.'],
  ['show jobs', '.'],
  ['show unique jobs', '.'],
  ['show', 'ERR UNKNOWN_COMMAND Unknown+server+commandshow'],
  ['show foo', 'ERR UNKNOWN_SHOW_ARGUMENTS'],
  ['show jobs now', 'ERR UNKNOWN_SHOW_ARGUMENTS'],
  ['cancel', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel'],
  ['cancel job', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel'],
  ['cancel foo bar', 'ERR UNKNOWN_ERROR'],
  [`cancel job ${unknownHandle}`, 'ERR UNKNOWN_JOB'],
  ['create', 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create'],
  ['create function', 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create'],
  ['drop', 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop'],
  ['drop function nothere', 'ERR function not found'],
  ['maxqueue', 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue'],
  ['maxqueue nothere 5', 'OK'],
  ['shutdown', 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown'],
  ['shutdown graceful', 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown'],
  ['frobnicate', 'ERR UNKNOWN_COMMAND Unknown+server+commandfrobnicate'],
  ['', 'ERR UNKNOWN_COMMAND Unknown+server+command'],
  [' status', 'ERR UNKNOWN_COMMAND Unknown+server+command'],
];

describeConformance('protocol replies', [], ({ start }) => {
  it('answers every request as gearmand 1.1.20 does, byte for byte', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    for (const [what, request, reply] of kReplies) {
      client.write(request);
      expect(show(await client.next()), what).toBe(reply);
    }
    // None of these closes the connection.
    client.send(PacketType.ECHO_REQ, ['still here']);
    expect(texts(await client.expect(PacketType.ECHO_RES))).toEqual(['still here']);
  });

  it('accepts a 64-byte unique', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_BG, ['f', 'u'.repeat(64), 'data']);
    expect(texts(await client.expect(PacketType.JOB_CREATED))).toEqual([`${HANDLE_PREFIX}:1`]);
  });

  it('answers the text admin commands as gearmand 1.1.20 does', async () => {
    const server = await start();
    const admin = await RawClient.connect(server.port);
    for (const [line, reply] of kAdmin) {
      const shape = reply === '.' ? 'list' : 'line';
      const lines = await admin.admin(line, shape);
      expect(shape === 'list' ? [...lines, '.'].join('\n') : lines[0], JSON.stringify(line)).toBe(reply);
    }
    expect((await admin.admin('version'))[0]).toMatch(/^OK \d+\.\d+\.\d+\+\w+$/);
    expect((await admin.admin('getpid'))[0]).toMatch(/^OK \d+$/);
    expect((await admin.admin('verbose'))[0]).toMatch(/^OK [A-Z]+$/);
  });

  it('takes admin lines that end in a bare LF and binary packets on the same connection', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.write('create function mixed\r\n');
    expect(await client.nextFrame()).toEqual({ kind: 'text', line: 'OK' });
    client.send(PacketType.SUBMIT_JOB_BG, ['mixed', '', 'x']);
    await client.expect(PacketType.JOB_CREATED);
    client.write('status\n');
    const status: string[] = [];
    for (
      let frame = await client.nextFrame();
      frame.kind === 'text' && frame.line !== '.';
      frame = await client.nextFrame()
    ) {
      status.push(frame.line);
    }
    expect(status).toEqual(['mixed\t1\t0\t0']);
  });

  it('lists every connection in `workers`, with the client id a connection set', async () => {
    const server = await start();
    const worker = await RawClient.connect(server.port);
    worker.send(PacketType.SET_CLIENT_ID, ['my-worker']);
    worker.send(PacketType.CAN_DO, ['one']);
    worker.send(PacketType.CAN_DO, ['two']);
    worker.send(PacketType.CAN_DO, ['three']);
    worker.send(PacketType.CANT_DO, ['two']);
    await worker.sync();
    const admin = await RawClient.connect(server.port);
    // gearmand may still list a connection it has closed (the port probe's), with fd -1,
    // until its I/O thread frees it: not a connection any more, so not compared.
    const lines = (await admin.admin('workers', 'list'))
      .filter((line) => !line.startsWith('-1 '))
      .map((line) => line.replace(/^\d+ /, ''));
    // gearmand lists a connection's functions latest registration first.
    expect(lines.sort()).toEqual(['127.0.0.1 - :', '127.0.0.1 my-worker : three one']);
  });
});
