/**
 * Durations in the manifest: a number is milliseconds; a string takes a unit,
 * `250ms`, `30s`, `5m`, `1h` (decimals allowed: `1.5s`). Units are required in strings
 * because Gearman's own timeouts have confused seconds and milliseconds for years.
 */
export function parseDuration(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value : 'a duration must be zero or more';
  }
  if (typeof value !== 'string') return 'expected a duration such as 30s, 500ms or 2m';
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
  if (!match) return `expected a duration such as 30s, 500ms or 2m, got "${value}"`;
  const amount = Number(match[1]);
  const unit = match[2] as 'ms' | 's' | 'm' | 'h';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit];
  return Math.round(amount * factor);
}

/** `30000` → `30s`, `1500` → `1.5s`, `250` → `250ms`: for printing resolved settings. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 60_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 1000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
