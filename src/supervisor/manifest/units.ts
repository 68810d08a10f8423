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

const kSizeUnits: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Sizes in the manifest: a whole number is bytes; a string takes a unit, `512KiB`,
 * `64MiB`, `1GiB` (powers of 1024; `K`, `M`, `G` mean the same). Returns the bytes, or
 * the problem as a string.
 */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 1
      ? value
      : 'a size must be a whole number of bytes, 1 or more';
  }
  const hint = 'expected a size such as 65536, 512KiB or 64MiB';
  if (typeof value !== 'string') return hint;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(value);
  const factor = match === null ? undefined : kSizeUnits[(match[2] ?? 'b').toLowerCase()];
  const bytes = factor === undefined ? Number.NaN : Math.round(Number(match?.[1]) * factor);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : `${hint}, got "${value}"`;
}

/** `67108864` → `64 MiB`, `1536` → `1.5 KiB`: for log lines and failure reasons. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= factor) return `${Math.round((bytes / factor) * 10) / 10} ${unit}`;
  }
  return `${bytes} B`;
}
