const kFactors = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const kExample = 'expected a duration such as 30s, 500ms or 2m';

/**
 * Reads a duration with its unit: `250ms`, `30s`, `5m`, `1h` (decimals allowed:
 * `1.5s`), in milliseconds, or a message saying what is wrong. A bare number is refused
 * ("add a unit: 30s or 30ms"), whether a YAML number or a flag's text: `timeout: 30`
 * used to mean 30 ms where Celery and GearmanManager users mean seconds, and Gearman's
 * own timeouts have confused the two for years. Zero is the same in every unit and
 * needs none. The manifest's settings and the CLI's flags both read durations here.
 */
export function parseDuration(value: unknown): number | string {
  if (typeof value === 'number') return bareNumber(value);
  if (typeof value !== 'string') return kExample;
  const text = value.trim();
  if (/^[+-]?\d+(?:\.\d+)?$/.test(text)) return bareNumber(Number(text));
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text);
  if (!match) return `${kExample}, got "${value}"`;
  const unit = match[2] as keyof typeof kFactors;
  return Math.round(Number(match[1]) * kFactors[unit]);
}

function bareNumber(value: number): number | string {
  if (value === 0) return 0;
  if (!Number.isFinite(value) || value < 0)
    return 'a duration must be zero or more, with a unit: 30s or 500ms';
  return `add a unit: ${value}s or ${value}ms`;
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
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/**
 * Sizes, in the manifest and in the CLI's size flags alike: a whole number is bytes; a string takes a unit, `512KiB`,
 * `64MiB`, `1GiB` (powers of 1024; `K`, `M`, `G` mean the same; decimal `kB`, `MB`, `GB`;
 * case does not matter). Whole bytes only; the caller checks its own range. Returns the
 * bytes, or the problem as a string.
 */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : 'a size must be a whole number of bytes';
  }
  const hint = 'expected a size such as 64MiB, 512KiB or 65536 (bytes)';
  if (typeof value !== 'string') return hint;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(value);
  const factor = match === null ? undefined : kSizeFactors[(match[2] ?? 'b').toLowerCase()];
  if (match === null || factor === undefined) return `${hint}, got "${value}"`;
  const bytes = Number(match[1]) * factor;
  if (!Number.isSafeInteger(bytes)) return `${hint}, got "${value}" (not a whole number of bytes)`;
  return bytes;
}

/** `33554432` → `32MiB`, `1536` → `1.5KiB`, `100` → `100B`: as a manifest writes it, for logs and reasons. */
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
