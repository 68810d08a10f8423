/**
 * Draws bench/results/latest.json as an SVG bar chart (docs/benchmarks.svg): one block
 * per table, one bar per row (its median), each block on its own scale, coloured by side
 * (gworker, PHP, gearmand, the ideal). No dependency: the SVG is written by hand.
 *
 *   npx tsx bench/lib/chart.ts [--in bench/results/latest.json] [--out docs/benchmarks.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { kRepoRoot } from './processes.js';

interface ChartRow {
  readonly label: string;
  readonly side: string;
  readonly value: number | null;
}

interface ChartBlock {
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly rows: ChartRow[];
}

interface ResultsFile {
  readonly generatedAt: string;
  readonly node: string;
  readonly gearmand: string;
  readonly cpus: number;
  readonly cpuModel: string | null;
  readonly loadAverage: { start: number[]; end: number[] };
  readonly benches: Record<string, BenchJson>;
}

interface BenchJson {
  readonly title: string;
  readonly unit: string;
  readonly rows: Array<{ label: string; side: string; medianRate: number | null }>;
  readonly sections?: Array<{
    title: string;
    unit: string;
    higherIsBetter: boolean;
    chart?: boolean;
    rows: Array<{ label: string; side: string; median: number | null }>;
  }>;
}

/** Every table of the results as chart blocks (sections marked `chart: false` left out). */
export function chartBlocks(results: ResultsFile): ChartBlock[] {
  const blocks: ChartBlock[] = [];
  for (const bench of Object.values(results.benches)) {
    if (bench.sections !== undefined) {
      for (const section of bench.sections) {
        if (section.chart === false) continue;
        blocks.push({
          title: section.title,
          unit: section.unit,
          higherIsBetter: section.higherIsBetter,
          rows: section.rows.map((row) => ({ label: row.label, side: row.side, value: row.median })),
        });
      }
    } else if (bench.rows.length > 0) {
      blocks.push({
        title: bench.title,
        unit: bench.unit,
        higherIsBetter: true,
        rows: bench.rows.map((row) => ({ label: row.label, side: row.side, value: row.medianRate })),
      });
    }
  }
  return blocks;
}

const kColours: Record<string, string> = {
  ours: '#2563eb',
  php: '#9ca3af',
  gearmand: '#f59e0b',
  ideal: '#10b981',
  mixed: '#a78bfa',
};
const kLegend: ReadonlyArray<[string, string]> = [
  ['ours', 'gworker'],
  ['php', 'PHP pecl (libgearman)'],
  ['gearmand', 'gearmand 1.1.20'],
  ['ideal', 'ideal'],
  ['mixed', 'one side each'],
];

const kWidth = 1000;
const kLabelWidth = 520;
const kBarWidth = 330;
const kRowHeight = 18;
const kFont = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function formatValue(value: number, unit: string): string {
  const digits = Math.abs(value) < 100 && !Number.isInteger(value) ? 1 : 0;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

/** The SVG text of the chart. */
export function renderChart(results: ResultsFile): string {
  const blocks = chartBlocks(results);
  const parts: string[] = [];
  let y = 24;
  const load = (values: number[]) => values.map((n) => n.toFixed(2)).join(' ');
  parts.push(
    `<text x="12" y="${y}" ${kFont} font-size="16" font-weight="600">gworker benchmarks (medians; each block on its own scale)</text>`,
  );
  y += 20;
  parts.push(
    `<text x="12" y="${y}" ${kFont} font-size="11" fill="#444">${escapeXml(
      `${results.generatedAt} · Node ${results.node} · gearmand ${results.gearmand} · ${results.cpus} x ${results.cpuModel ?? 'cpu'} · load average ${load(results.loadAverage.start)} → ${load(results.loadAverage.end)}`,
    )}</text>`,
  );
  y += 18;
  let x = 12;
  for (const [side, name] of kLegend) {
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${kColours[side]}"/>`);
    parts.push(`<text x="${x + 14}" y="${y}" ${kFont} font-size="11">${escapeXml(name)}</text>`);
    x += 24 + name.length * 6.2;
  }
  y += 14;
  for (const block of blocks) {
    y += 22;
    const direction = block.higherIsBetter ? 'higher is better' : 'lower is better';
    parts.push(
      `<text x="12" y="${y}" ${kFont} font-size="12" font-weight="600">${escapeXml(clip(`${block.title} (${block.unit}, ${direction})`, 150))}</text>`,
    );
    y += 6;
    const max = Math.max(0, ...block.rows.map((row) => row.value ?? 0));
    for (const row of block.rows) {
      y += kRowHeight;
      const value = row.value ?? Number.NaN;
      const width = max > 0 && Number.isFinite(value) ? Math.max(1, (value / max) * kBarWidth) : 0;
      parts.push(
        `<text x="${kLabelWidth - 8}" y="${y - 4}" ${kFont} font-size="11" text-anchor="end">${escapeXml(clip(row.label, 88))}</text>`,
      );
      parts.push(
        `<rect x="${kLabelWidth}" y="${y - 14}" width="${width.toFixed(1)}" height="13" fill="${kColours[row.side] ?? '#666'}"/>`,
      );
      const text = Number.isFinite(value) ? formatValue(value, block.unit) : 'not measured';
      parts.push(
        `<text x="${(kLabelWidth + width + 6).toFixed(1)}" y="${y - 4}" ${kFont} font-size="11" fill="#222">${escapeXml(text)}</text>`,
      );
    }
  }
  y += 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${kWidth}" height="${y}" viewBox="0 0 ${kWidth} ${y}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: { in: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: npx tsx bench/lib/chart.ts [--in RESULTS_JSON] [--out SVG]\n');
    return;
  }
  const input = resolve(values.in ?? `${kRepoRoot}bench/results/latest.json`);
  const output = resolve(values.out ?? `${kRepoRoot}docs/benchmarks.svg`);
  const results = JSON.parse(readFileSync(input, 'utf8')) as ResultsFile;
  writeFileSync(output, renderChart(results));
  console.log(`chart of ${chartBlocks(results).length} tables written to ${output}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname))
  main();
