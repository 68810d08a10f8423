import { parseDuration } from '../../supervisor/manifest/units.js';
import { OptionValueError } from './option-values.js';

/** Date and time as ISO 8601 writes it: a date, optionally a time and a zone. */
const kIso8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A point in time for `--at`: ISO 8601 (`2026-12-24T18:00:00Z`; without a zone it is
 * local time, as Date reads it) or seconds since the Unix epoch (`1798135200`).
 */
export function timeValue(text: string): Date {
  const bare = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(bare)) return new Date(Number(bare) * 1000);
  const ms = kIso8601.test(bare) ? Date.parse(bare) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new OptionValueError(
      `expected an ISO 8601 time such as 2026-12-24T18:00:00Z or seconds since the epoch, got "${text}"`,
    );
  }
  return new Date(ms);
}

/** A wait from now for `--in`, with its unit (`90s`, `15m`, `2h`), as milliseconds; no upper bound. */
export function waitValue(text: string): number {
  const ms = parseDuration(text);
  if (typeof ms === 'string') throw new OptionValueError(ms);
  return ms;
}
