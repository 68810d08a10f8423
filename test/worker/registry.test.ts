import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { AnnouncedFunctions } from '../../src/worker/registry.js';

const handler = () => 'ok';

/** Header fields and body of one frame, as the server reads them. */
function parse(frame: Buffer): { magic: string; type: number; body: string } {
  expect(frame.readUInt32BE(8)).toBe(frame.length - 12);
  return {
    magic: frame.subarray(0, 4).toString('latin1'),
    type: frame.readUInt32BE(4),
    body: frame.subarray(12).toString('latin1'),
  };
}

describe('AnnouncedFunctions', () => {
  it('announces a plain function with CAN_DO', () => {
    const registry = new AnnouncedFunctions(undefined);
    const [frame] = registry.register('resize', handler, undefined);
    expect(parse(frame as Buffer)).toEqual({ magic: '\0REQ', type: PacketType.CAN_DO, body: 'resize' });
  });

  it('sends a timeout as CAN_DO_TIMEOUT with decimal ASCII milliseconds', () => {
    const registry = new AnnouncedFunctions(undefined);
    const [frame] = registry.register('slow', handler, 1500);
    // gearmand >= 1.1.19 reads "1500" with strtol as milliseconds; 4 binary bytes would read as 0.
    expect((frame as Buffer).toString('hex')).toBe(
      Buffer.concat([
        Buffer.from('\0REQ', 'latin1'),
        Buffer.from([0, 0, 0, 23, 0, 0, 0, 9]),
        Buffer.from('slow\x001500', 'latin1'),
      ]).toString('hex'),
    );
  });

  it('replays SET_CLIENT_ID first, then every active function in registration order', () => {
    const registry = new AnnouncedFunctions('box-1');
    registry.register('a', handler, undefined);
    registry.register('b', handler, 250);
    registry.register('c', handler, undefined);
    registry.unregister('c');
    const frames = registry.replayFrames().map(parse);
    expect(frames).toEqual([
      { magic: '\0REQ', type: PacketType.SET_CLIENT_ID, body: 'box-1' },
      { magic: '\0REQ', type: PacketType.CAN_DO, body: 'a' },
      { magic: '\0REQ', type: PacketType.CAN_DO_TIMEOUT, body: 'b\x00250' },
    ]);
    expect(registry.names).toEqual(['a', 'b']);
  });

  it('swaps the handler of a registered function without a second CAN_DO', () => {
    const registry = new AnnouncedFunctions(undefined);
    registry.register('a', handler, undefined);
    const other = () => 'other';
    expect(registry.register('a', other, undefined)).toEqual([]);
    expect(registry.lookup('a')?.handler).toBe(other);
  });

  it('withdraws before announcing a changed timeout, so gearmand lists the function once', () => {
    const registry = new AnnouncedFunctions(undefined);
    registry.register('a', handler, undefined);
    const frames = registry.register('a', handler, 2000).map(parse);
    expect(frames.map((f) => f.type)).toEqual([PacketType.CANT_DO, PacketType.CAN_DO_TIMEOUT]);
    expect(frames[1]?.body).toBe('a\x002000');
  });

  it('answers CANT_DO once and keeps the handler for jobs already on their way', () => {
    const registry = new AnnouncedFunctions(undefined);
    registry.register('a', handler, undefined);
    expect(parse(registry.unregister('a') as Buffer)).toMatchObject({ type: PacketType.CANT_DO, body: 'a' });
    expect(registry.unregister('a')).toBeUndefined();
    expect(registry.lookup('a')?.handler).toBe(handler);
    expect(registry.names).toEqual([]);
  });

  it('reset withdraws everything with RESET_ABILITIES', () => {
    const registry = new AnnouncedFunctions(undefined);
    registry.register('a', handler, undefined);
    registry.register('b', handler, undefined);
    expect(parse(registry.reset()).type).toBe(PacketType.RESET_ABILITIES);
    expect(registry.names).toEqual([]);
    expect(registry.replayFrames()).toEqual([]);
  });

  it('knows while an announced function has a server-side timeout', () => {
    const registry = new AnnouncedFunctions(undefined);
    registry.register('plain', handler, undefined);
    expect(registry.timed).toBe(false);
    registry.register('slow', handler, 1500);
    expect(registry.timed).toBe(true);
    registry.register('slow', handler, undefined);
    expect(registry.timed).toBe(false);
    registry.register('slow', handler, 1500);
    registry.unregister('slow');
    expect(registry.timed).toBe(false);
    registry.register('slow', handler, 1500);
    registry.reset();
    expect(registry.timed).toBe(false);
  });
});
