import { describe, expect, it } from 'vitest';
import {
  type Carrier,
  deadLetterUnique,
  jobKey,
  retryUnique,
  unwrapPayload,
  wrapPayload,
} from '../../../src/supervisor/retry/carrier.js';

const carrier: Carrier = {
  attempt: 2,
  unique: 'order-17',
  key: 'abcdefghijklmnop',
  firstFailedAt: 1_700_000_000_000,
  errors: [
    { attempt: 1, cause: 'exception', name: 'Error', message: 'boom', at: 1_700_000_000_000, box: 'box-1' },
  ],
};

describe('the retry carrier', () => {
  it('wraps a payload so that the header and the bytes come back as they were', () => {
    const payload = Buffer.from([0, 1, 2, 255, 0, 0x7b]);
    const wrapped = wrapPayload(carrier, payload);
    expect(wrapped.subarray(0, 10).toString('latin1')).toBe('\0GWRETRY1\0');
    const unwrapped = unwrapPayload(wrapped);
    expect(unwrapped?.carrier).toEqual(carrier);
    expect(Buffer.from(unwrapped?.payload ?? []).equals(payload)).toBe(true);
  });

  it('passes other payloads through, including ones that start alike or carry a damaged header', () => {
    expect(unwrapPayload(Buffer.from('{"a":1}'))).toBeNull();
    expect(unwrapPayload(Buffer.from('\0GWRETRY1'))).toBeNull();
    expect(unwrapPayload(Buffer.from('\0GWRETRY1\0{not json\0x'))).toBeNull();
    expect(unwrapPayload(Buffer.from('\0GWRETRY1\0{"v":2}\0x'))).toBeNull();
  });

  it('derives the same retry unique from the same job and attempt, and another for another', () => {
    const key = jobKey('127.0.0.1:4730', 'H:box:1', 'order-17');
    expect(retryUnique('order-17', key, 2)).toBe(retryUnique('order-17', key, 2));
    expect(retryUnique('order-17', key, 2)).toMatch(/^order-17~r2\.[\w-]{16}$/);
    expect(retryUnique('order-17', key, 3)).not.toBe(retryUnique('order-17', key, 2));
    // The same unique on another job (another handle) is another retry.
    expect(retryUnique('order-17', jobKey('127.0.0.1:4730', 'H:box:2', 'order-17'), 2)).not.toBe(
      retryUnique('order-17', key, 2),
    );
    expect(deadLetterUnique('order-17', key)).toMatch(/^order-17~dead\./);
  });

  it('keeps a derived unique within gearmand 64 bytes, cutting long and multibyte uniques whole', () => {
    const key = jobKey('s', 'H:1', 'x');
    for (const unique of ['u'.repeat(64), 'é'.repeat(32), '😀'.repeat(16)]) {
      const derived = retryUnique(unique, key, 100);
      expect(Buffer.byteLength(derived)).toBeLessThanOrEqual(64);
      expect(Buffer.from(derived, 'utf8').toString('utf8')).toBe(derived);
    }
  });
});
