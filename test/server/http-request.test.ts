import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { encodeResponse } from '../../src/protocol/encoder.js';
import { isLoopbackAddress } from '../../src/server/http/guard.js';
import { HttpJobPeer, type JobEvents } from '../../src/server/http/job-peer.js';
import { functionFromTarget, parseJobHeaders } from '../../src/server/http/request.js';
import { JobPriority } from '../../src/server/job.js';

describe('functionFromTarget', () => {
  it('takes the path after the first slash, without the query, percent-decoded to bytes', () => {
    expect(functionFromTarget('/reverse')?.toString()).toBe('reverse');
    expect(functionFromTarget('/a/b?x=1#y')?.toString()).toBe('a/b');
    expect(functionFromTarget('/caf%C3%A9')?.toString('utf8')).toBe('café');
    expect(functionFromTarget('/%41%2f')?.toString()).toBe('A/');
    expect(functionFromTarget('/')).toBeNull();
    expect(functionFromTarget('/?health')).toBeNull();
  });

  it('refuses a target that is not a path, a NUL, a bad escape and an overlong name, with 400', () => {
    for (const target of ['*', 'http://x/fn', '/a%00', '/a%4', '/a%gg', `/${'x'.repeat(513)}`, undefined]) {
      expect(() => functionFromTarget(target)).toThrow(expect.objectContaining({ status: 400 }));
    }
    expect(functionFromTarget(`/${'x'.repeat(512)}`)?.length).toBe(512);
  });
});

describe('parseJobHeaders', () => {
  it("defaults to gearmand's HTTP plugin: unique '-', foreground, normal priority, no timeout", () => {
    expect(parseJobHeaders({})).toEqual({
      unique: Buffer.from('-'),
      background: false,
      priority: JobPriority.NORMAL,
      timeoutMs: 0,
    });
  });

  it('reads every X-Gearman-* header, case-insensitive values', () => {
    expect(
      parseJobHeaders({
        'x-gearman-unique': 'order-42',
        'x-gearman-background': 'TRUE',
        'x-gearman-priority': 'High',
        'x-gearman-timeout': '1500',
      }),
    ).toEqual({
      unique: Buffer.from('order-42'),
      background: true,
      priority: JobPriority.HIGH,
      timeoutMs: 1500,
    });
    expect(parseJobHeaders({ 'x-gearman-priority': 'low' }).priority).toBe(JobPriority.LOW);
    expect(parseJobHeaders({ 'x-gearman-background': 'false' }).background).toBe(false);
    expect(parseJobHeaders({ 'x-gearman-unique': '' }).unique.length).toBe(0);
  });

  it('refuses values that mean nothing, with 400', () => {
    for (const headers of [
      { 'x-gearman-background': 'sometimes' },
      { 'x-gearman-priority': 'urgent' },
      { 'x-gearman-timeout': '0' },
      { 'x-gearman-timeout': '-5' },
      { 'x-gearman-timeout': '1e3' },
      { 'x-gearman-timeout': '99999999999' },
      { 'x-gearman-unique': 'u'.repeat(65) },
    ]) {
      expect(() => parseJobHeaders(headers)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });
});

describe('isLoopbackAddress', () => {
  it('knows 127/8 and ::1 in every form, and nothing else', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackAddress(address)).toBe(true);
    }
    for (const address of ['10.0.0.1', '::ffff:192.0.2.1', '::', '0.0.0.0', 'fe80::1', undefined]) {
      expect(isLoopbackAddress(address)).toBe(false);
    }
  });
});

describe('HttpJobPeer', () => {
  function recorder(): { events: string[]; sink: JobEvents } {
    const events: string[] = [];
    return {
      events,
      sink: {
        created: (handle) => events.push(`created ${handle}`),
        data: (chunk) => events.push(`data ${chunk}`),
        complete: (result) => events.push(`complete ${result}`),
        failed: () => events.push('failed'),
        exception: (payload) => events.push(`exception ${payload}`),
        error: (code, text) => events.push(`error ${code} ${text}`),
      },
    };
  }

  it('reads the frames the engine sends back into events, and drops status and warnings', () => {
    const { events, sink } = recorder();
    const peer = new HttpJobPeer(1, sink);
    expect(peer.exceptions).toBe(true);
    peer.send(encodeResponse(PacketType.JOB_CREATED, ['H:x:1']));
    peer.send(encodeResponse(PacketType.WORK_STATUS, ['H:x:1', '1', '2']));
    peer.send(encodeResponse(PacketType.WORK_WARNING, ['H:x:1', 'careful']));
    peer.send(encodeResponse(PacketType.WORK_DATA, ['H:x:1', Buffer.from('a\0b')]));
    peer.send(encodeResponse(PacketType.WORK_COMPLETE, ['H:x:1', '']));
    peer.send(encodeResponse(PacketType.WORK_FAIL, ['H:x:1']));
    peer.send(encodeResponse(PacketType.WORK_EXCEPTION, ['H:x:1', 'oops']));
    peer.send(encodeResponse(PacketType.ERROR, ['QUEUE_ERROR', 'Job queue is full']));
    expect(events).toEqual([
      'created H:x:1',
      'data a\0b',
      'complete ',
      'failed',
      'exception oops',
      'error QUEUE_ERROR Job queue is full',
    ]);
  });

  it('reads every frame of a buffer that holds several (a result-cache answer)', () => {
    const { events, sink } = recorder();
    const peer = new HttpJobPeer(1, sink);
    peer.send(
      Buffer.concat([
        encodeResponse(PacketType.JOB_CREATED, ['H:x:2']),
        encodeResponse(PacketType.WORK_COMPLETE, ['H:x:2', 'cached']),
      ]),
    );
    expect(events).toEqual(['created H:x:2', 'complete cached']);
  });

  it('holds what follows a deferred reply until that reply is known', () => {
    const { events, sink } = recorder();
    const peer = new HttpJobPeer(1, sink);
    const slot = peer.defer();
    peer.send(encodeResponse(PacketType.WORK_COMPLETE, ['H:x:1', 'r']));
    expect(events).toEqual([]);
    slot.resolve(encodeResponse(PacketType.JOB_CREATED, ['H:x:1']));
    expect(events).toEqual(['created H:x:1', 'complete r']);
    peer.send(encodeResponse(PacketType.WORK_FAIL, ['H:x:1']));
    expect(events).toHaveLength(3);
  });
});
