import { describe, expect, it } from 'vitest';
import { fnv1a32, serverIndexForUnique } from '../../src/client/server-picker.js';

describe('server picker', () => {
  it('computes FNV-1a 32-bit as published', () => {
    // Test vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv).
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of a string, so bytes and text agree', () => {
    for (const text of ['plain', 'ünïcödé', '日本語', 'emoji 🎉']) {
      expect(fnv1a32(text)).toBe(fnv1a32(Buffer.from(text, 'utf8')));
    }
  });

  it('maps a unique to the same server every time, and spreads many uniques', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const unique = `user:${i}`;
      const index = serverIndexForUnique(unique, 'payload', 3);
      expect(serverIndexForUnique(unique, 'other payload', 3)).toBe(index);
      counts[index] = (counts[index] as number) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it("hashes the payload for the unique '-', as the server does", () => {
    expect(serverIndexForUnique('-', 'same body', 7)).toBe(fnv1a32('same body') % 7);
    expect(serverIndexForUnique('-', Buffer.from('same body'), 7)).toBe(fnv1a32('same body') % 7);
  });

  it('always picks the only server when there is one', () => {
    expect(serverIndexForUnique('anything', '', 1)).toBe(0);
  });
});
