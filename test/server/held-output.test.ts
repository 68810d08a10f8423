import { describe, expect, it } from 'vitest';
import { HeldOutput } from '../../src/server/held-output.js';

const frame = (text: string): Buffer => Buffer.from(text);

describe('output held behind deferred replies', () => {
  it('writes nothing past a reply still unknown, then everything in the order it was sent', () => {
    const held = new HeldOutput();
    const written: string[] = [];
    const write = (bytes: Buffer): void => {
      written.push(bytes.toString());
    };
    const first = held.reserve(() => held.release(write));
    held.push(frame('a'));
    const second = held.reserve(() => held.release(write));
    held.push(frame('b'));
    expect(held.release(write)).toBe(false);
    expect(written).toEqual([]);

    second.resolve(frame('created 2'));
    expect(written).toEqual([]);
    first.resolve(frame('created 1'));
    expect(written).toEqual(['created 1', 'a', 'created 2', 'b']);
    expect(held.release(write)).toBe(true);
  });

  it('keeps the order across a burst of thousands of replies resolved one by one', () => {
    const held = new HeldOutput();
    const written: string[] = [];
    const write = (bytes: Buffer): void => {
      written.push(bytes.toString());
    };
    const slots = Array.from({ length: 5000 }, (_, i) => {
      const slot = held.reserve(() => held.release(write));
      held.push(frame(`after ${i}`));
      return slot;
    });
    slots.forEach((slot, i) => {
      slot.resolve(frame(`reply ${i}`));
      expect(written.length).toBe(2 * (i + 1));
    });
    expect(written.slice(0, 4)).toEqual(['reply 0', 'after 0', 'reply 1', 'after 1']);
    expect(written.slice(-2)).toEqual(['reply 4999', 'after 4999']);
    expect(held.release(write)).toBe(true);
  });
});
