/** A column of a plain-text table: numbers read best right-aligned. */
export interface TableColumn {
  readonly header: string;
  /** @defaultValue 'left' */
  readonly align?: 'left' | 'right';
}

const kGap = '  ';

/**
 * Formats rows as an aligned plain-text table: a header line, then one line per row,
 * columns two spaces apart, no trailing spaces, each line ending in a newline. Cells
 * are measured in UTF-16 units, which is right for the ASCII that job servers report.
 * Control characters in cells (a tab in a function name) are shown as escapes so they
 * cannot break the alignment.
 */
export function formatTable(columns: readonly TableColumn[], rows: ReadonlyArray<readonly string[]>): string {
  const cells = rows.map((row) => columns.map((_, i) => visible(row[i] ?? '')));
  const widths = columns.map((column, i) =>
    cells.reduce((max, row) => Math.max(max, (row[i] as string).length), column.header.length),
  );
  const line = (values: readonly string[]): string =>
    values
      .map((value, i) => {
        const width = widths[i] as number;
        return columns[i]?.align === 'right' ? value.padStart(width) : value.padEnd(width);
      })
      .join(kGap)
      .trimEnd();
  const out = [line(columns.map((column) => column.header)), ...cells.map(line)];
  return `${out.join('\n')}\n`;
}

function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
