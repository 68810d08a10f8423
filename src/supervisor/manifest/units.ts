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

const kSizeFactors: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  kb: 1000,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/**
 * Sizes in the manifest: a number is bytes; a string takes a unit, `512KiB`, `32MiB`,
 * `1GiB` (or decimal `kB`, `MB`, `GB`, and `B`; case does not matter). Whole bytes only.
 */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : 'a size must be a whole number of bytes';
  }
  const hint = 'expected a size such as 32MiB, 512KiB or 1048576 (bytes)';
  if (typeof value !== 'string') return hint;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(value);
  const factor = match === null ? undefined : kSizeFactors[(match[2] as string).toLowerCase()];
  if (match === null || factor === undefined) return `${hint}, got "${value}"`;
  const bytes = Number(match[1]) * factor;
  if (!Number.isSafeInteger(bytes)) return `${hint}, got "${value}" (not a whole number of bytes)`;
  return bytes;
}

/** `33554432` → `32MiB`, `1536` → `1.5KiB`, `100` → `100B`: for printing resolved settings. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= factor) return `${Math.round((bytes / factor) * 100) / 100}${unit}`;
  }
  return `${bytes}B`;
}
