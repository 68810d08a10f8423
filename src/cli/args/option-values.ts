import { MAX_TIMER_MS } from '../../limits.js';
import { parseDuration, parseSize } from '../../supervisor/manifest/units.js';
import type { OptionSpec } from './option-spec.js';

/** A bad value: the message says what was expected; the caller names the option. */
export class OptionValueError extends Error {
  override readonly name = 'OptionValueError';
}

/**
 * A duration flag's value in milliseconds. A bare number is refused: `--timeout 30` has
 * meant seconds to some tools and milliseconds to others, so the unit must be written.
 */
export function durationValue(text: string, min = 1, max = MAX_TIMER_MS): number {
  const bare = text.trim();
  let ms: number | string;
  if (/^\d+(\.\d+)?$/.test(bare)) {
    ms = Number(bare) === 0 ? 0 : `add a unit: ${bare}s or ${bare}ms`;
  } else {
    ms = parseDuration(bare);
  }
  if (typeof ms === 'string') throw new OptionValueError(ms);
  if (ms < min) throw new OptionValueError(`expected a duration of at least ${min}ms, got "${text}"`);
  if (ms > max) {
    // The usual bound is a Node timer's longest wait (MAX_TIMER_MS); a longer one fires at once.
    const most = max === MAX_TIMER_MS ? '24 days' : `${max}ms`;
    throw new OptionValueError(`expected a duration of at most ${most}, got "${text}"`);
  }
  return ms;
}

export function integerValue(text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) {
    throw new OptionValueError(`expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/**
 * A size flag's value in bytes, in the manifest's grammar (parseSize: `65536`, `512KiB`,
 * `64MiB`, `1.5GiB`, `100MB`), one byte or more; the command checks its own range.
 */
export function sizeValue(text: string): number {
  const bytes = parseSize(text);
  if (typeof bytes === 'string') throw new OptionValueError(bytes);
  if (bytes < 1) throw new OptionValueError(`expected a size of 1B or more, got "${text}"`);
  return bytes;
}

/** The value an option's text stands for; throws OptionValueError saying what was expected. */
export function optionValue(spec: Exclude<OptionSpec, { type: 'boolean' | 'list' }>, text: string): unknown {
  switch (spec.type) {
    case 'duration':
      return durationValue(text, spec.min, spec.max);
    case 'integer':
      return integerValue(text, spec.min, spec.max);
    case 'size':
      return sizeValue(text);
    case 'string': {
      if (text === '') throw new OptionValueError(`expected ${article(spec.value ?? 'VALUE')}, got ""`);
      if (spec.choices !== undefined && !spec.choices.includes(text)) {
        throw new OptionValueError(`expected one of ${spec.choices.join(', ')}, got "${text}"`);
      }
      if (spec.parse === undefined) return text;
      try {
        return spec.parse(text);
      } catch (err) {
        throw new OptionValueError((err as Error).message);
      }
    }
  }
}

/** `FILE` -> `a FILE`, `ADDR` -> `an ADDR`. */
function article(word: string): string {
  return /^[AEIOU]/i.test(word) ? `an ${word}` : `a ${word}`;
}
