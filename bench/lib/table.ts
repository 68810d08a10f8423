/** Plain aligned text tables: the first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((line) => (line[col] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, col) => (col <= 1 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('-+-');
  return [render(header), rule, ...rows.map(render)].join('\n');
}

/** 12345.6 → `12,346`; NaN → `-`. */
export function fmtInt(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

/** 1.234 → `1.23x`; NaN → `-`. */
export function fmtRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : '-';
}

/** Microseconds with one decimal; NaN → `-`. */
export function fmtUs(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : '-';
}
