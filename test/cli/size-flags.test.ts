import { describe, expect, it } from 'vitest';
import { OptionValueError, sizeValue } from '../../src/cli/args/option-values.js';
import { parseSize } from '../../src/supervisor/manifest/units.js';

// Issue 16 sweep: one size grammar. A size flag (`--max-frame-size`, `--max-unsent-output`,
// `--result-cache-max-bytes`, `--max-body-size`) reads what the manifest's sizes read.

describe('size flags', () => {
  it('read every size the manifest reads, to the same bytes', () => {
    for (const text of ['65536', '512KiB', '64MiB', '1GiB', '1.5KiB', '100MB', '2kb', '1g', ' 64 MiB ']) {
      expect({ text, bytes: sizeValue(text) }).toEqual({ text, bytes: parseSize(text) });
    }
    expect(sizeValue('100MB')).toBe(100_000_000);
    expect(sizeValue('1.5KiB')).toBe(1536);
  });

  it('refuse zero, a fraction of a byte and an unknown unit, saying what a size looks like', () => {
    expect(() => sizeValue('0')).toThrow(new OptionValueError('expected a size of 1B or more, got "0"'));
    expect(() => sizeValue('1.5B')).toThrow(/not a whole number of bytes/);
    expect(() => sizeValue('12 parsecs')).toThrow(
      new OptionValueError('expected a size such as 64MiB, 512KiB or 65536 (bytes), got "12 parsecs"'),
    );
  });
});
