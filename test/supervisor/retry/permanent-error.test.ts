import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../src/index.js';
import { serializeError } from '../../../src/supervisor/thread/serialize-error.js';

describe('errors that refuse a retry', () => {
  it('marks a PermanentError, and any thrown value with retry: false, as permanent', () => {
    expect(serializeError(new PermanentError('card declined'))).toMatchObject({
      name: 'PermanentError',
      message: 'card declined',
      permanent: true,
    });
    expect(serializeError(Object.assign(new TypeError('bad input'), { retry: false })).permanent).toBe(true);
    expect(serializeError({ message: 'plain object', retry: false }).permanent).toBe(true);
  });

  it('leaves other errors retryable', () => {
    expect(serializeError(new Error('flaky network')).permanent).toBeUndefined();
    expect(serializeError(Object.assign(new Error('x'), { retry: true })).permanent).toBeUndefined();
    expect(serializeError('a string').permanent).toBeUndefined();
  });
});
