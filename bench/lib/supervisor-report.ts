/**
 * Result shapes and text tables for the benches whose figures are not all rates (the
 * supervisor's wall times, reload latencies, failure counts and memory, the server's
 * several cases): a result holds sections, each a small table with its own unit and
 * direction, and goals that say in words what they compared.
 */
import { median, ratio } from './stats.js';
import { fmtInt, fmtRatio } from './table.js';
import type { BenchResult, Goal } from './types.js';

/** One row of a section: a value per run (or per sample), summarised by worst and median. */
export interface SectionRow {
  readonly peer: string;
  readonly label: string;
  readonly side: 'ours' | 'php' | 'gearmand' | 'ideal';
  readonly values: number[];
  /** The slowest run for rates, the largest value for times and sizes. */
  readonly worst: number;
  readonly median: number;
  /** This row's median over the median of `versus` (NaN for the reference row). */
  readonly ratio: number;
  readonly versus: string | null;
  /** Extra figures by key (medians over runs), shown in the section's extra columns. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface SectionColumn {
  readonly key: string;
  readonly header: string;
  /** Decimal places (default 0, with thousands separators). */
  readonly digits?: number;
}

export interface Section {
  readonly key: string;
  readonly title: string;
  /** e.g. `jobs/s`, `ms`, `MiB`. */
  readonly unit: string;
  /** Rates: true (the worst run is the smallest). Times, sizes, counts: false. */
  readonly higherIsBetter: boolean;
  /** Decimal places of the value columns (default 0). */
  readonly digits?: number;
  readonly columns: SectionColumn[];
  readonly rows: SectionRow[];
  readonly notes: string[];
  /** false: left out of docs/benchmarks.svg (bench/lib/chart.ts), e.g. tables of counts. */
  readonly chart?: boolean;
}

/** A goal with its verdict already worded: not every goal here is "ours / reference >= 1". */
export interface WordedGoal extends Goal {
  /** What the summary line prints after the goal's text. */
  readonly figures: string;
}

/** A bench result made of sections; `rows` stays empty (the sections hold the tables). */
export interface SectionedBenchResult extends BenchResult {
  readonly sections: Section[];
  /** Settings the bench chose (e.g. the supervisor's manifest), for the record. */
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface SectionRowDraft {
  readonly peer: string;
  readonly label: string;
  readonly side: SectionRow['side'];
  readonly versus: string | null;
  readonly values: number[];
  readonly metrics?: Readonly<Record<string, number[]>>;
}

/** Turns drafts into rows: worst, median and the ratio of medians to the `versus` row. */
export function finishSectionRows(drafts: readonly SectionRowDraft[], higherIsBetter: boolean): SectionRow[] {
  const medians = new Map(drafts.map((draft) => [draft.peer, median(draft.values)]));
  return drafts.map((draft) => {
    const value = medians.get(draft.peer) ?? Number.NaN;
    const finite = draft.values.filter(Number.isFinite);
    const worst =
      finite.length === 0 ? Number.NaN : higherIsBetter ? Math.min(...finite) : Math.max(...finite);
    return {
      peer: draft.peer,
      label: draft.label,
      side: draft.side,
      values: draft.values,
      worst,
      median: value,
      ratio: draft.versus === null ? Number.NaN : ratio(value, medians.get(draft.versus) ?? Number.NaN),
      versus: draft.versus,
      metrics: Object.fromEntries(
        Object.entries(draft.metrics ?? {}).map(([key, values]) => [key, median(values)]),
      ),
    };
  });
}

export function rowOf(section: Section, peer: string): SectionRow | undefined {
  return section.rows.find((row) => row.peer === peer);
}

/**
 * A goal "ours >= reference" (rates) on two rows of a section, judged on the medians;
 * a miss within 5% is worded as noise level, since runs here move by more than that.
 */
export function atLeastGoal(text: string, section: Section, ours: string, reference: string): WordedGoal {
  const a = rowOf(section, ours);
  const b = rowOf(section, reference);
  const value = ratio(a?.median ?? Number.NaN, b?.median ?? Number.NaN);
  const met = value >= 1;
  const noise = !met && value >= 0.95 ? ' (within 5%: noise level here)' : '';
  return {
    text,
    ours: a?.label ?? ours,
    reference: b?.label ?? reference,
    oursMedian: a?.median ?? Number.NaN,
    referenceMedian: b?.median ?? Number.NaN,
    ratio: value,
    met,
    figures: `${fmtRatio(value)} (${fmtInt(a?.median ?? Number.NaN)} vs ${fmtInt(b?.median ?? Number.NaN)} ${section.unit})${noise}`,
  };
}

function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-';
  return digits === 0
    ? fmtInt(value)
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An aligned text table: the first column (labels) left-aligned, the figures right-aligned. */
export function formatLabelTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((line) => (line[col] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join(' | ')
      .trimEnd();
  return [render(header), widths.map((width) => '-'.repeat(width)).join('-+-'), ...rows.map(render)].join(
    '\n',
  );
}

/** One section as a text table, with its notes underneath. */
export function formatSection(section: Section): string {
  const worst = section.higherIsBetter ? 'min' : 'max';
  const header = [
    'peer',
    `${section.unit} ${worst}`,
    `${section.unit} median`,
    'ratio (median)',
    'vs',
    ...section.columns.map((column) => column.header),
  ];
  const rows = section.rows.map((row) => [
    row.label,
    fmt(row.worst, section.digits),
    fmt(row.median, section.digits),
    fmtRatio(row.ratio),
    row.versus ?? (section.rows.some((other) => other.versus === row.peer) ? '(reference)' : ''),
    ...section.columns.map((column) => fmt(row.metrics[column.key] ?? Number.NaN, column.digits)),
  ]);
  const runs = Math.max(0, ...section.rows.map((row) => row.values.length));
  return [
    `${section.title} (${runs} ${runs === 1 ? 'value' : 'values'}; ${worst} = worst)`,
    formatLabelTable(header, rows),
    ...section.notes.map((note) => `  ${note}`),
  ].join('\n');
}

/** Every section of a result (the runner's summary lists the goals). */
export function formatSectionedBench(result: SectionedBenchResult): string {
  return [`== ${result.title}`, '', result.sections.map(formatSection).join('\n\n')].join('\n');
}
