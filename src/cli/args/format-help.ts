import { formatDuration, formatSize } from '../../supervisor/manifest/units.js';
import type { OptionSpec, OptionSpecs } from './option-spec.js';
import { kTypeWord } from './parse-command-line.js';

/** --help is read on terminals: 80 columns. */
const kWidth = 80;
/** Descriptions start here at most; a longer flag puts its description on the next line. */
const kMaxColumn = 28;

const kHelpOption: OptionSpec = { type: 'boolean', short: 'h', help: 'print this help' };

/** `  -c, --config FILE` */
function label(name: string, spec: OptionSpec): string {
  const alias = spec.short === undefined ? '    ' : `-${spec.short}, `;
  const value = spec.type === 'boolean' ? '' : ` ${spec.value ?? kTypeWord[spec.type]}`;
  return `  ${alias}--${name}${value}`;
}

function formatDefault(spec: OptionSpec): string | undefined {
  if (!('default' in spec) || spec.default === undefined) return undefined;
  if (spec.type === 'duration') return formatDuration(spec.default);
  if (spec.type === 'size') return formatSize(spec.default);
  return String(spec.default);
}

/** The option's description, with its default when it has one the text does not mention. */
function description(spec: OptionSpec): string {
  const fallback = formatDefault(spec);
  return fallback === undefined || spec.help.includes('(default')
    ? spec.help
    : `${spec.help} (default ${fallback})`;
}

/** Words of `text` wrapped to `width` columns, every line after the first indented by `indent`. */
export function wrap(text: string, indent: number, first: string): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = lines.length === 0 ? first : ' '.repeat(indent);
    let empty = true;
    for (const word of paragraph.split(' ')) {
      if (!empty && line.length + 1 + word.length > kWidth) {
        lines.push(line);
        line = ' '.repeat(indent);
        empty = true;
      }
      line += empty ? word : ` ${word}`;
      empty = false;
    }
    lines.push(line);
  }
  return lines;
}

/**
 * Prose reflowed to 80 columns: paragraphs are separated by blank lines, and one whose
 * lines are indented (a list of signals, of subcommands) is kept as written.
 */
export function reflow(text: string): string {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) =>
      /^ /m.test(paragraph) ? paragraph : wrap(paragraph.replace(/\s*\n\s*/g, ' '), 0, '').join('\n'),
    )
    .join('\n\n');
}

/** The option list of --help: one entry per option, grouped under their headings. */
export function formatOptions(options: OptionSpecs): string {
  const entries = Object.entries(options);
  const column = Math.min(
    kMaxColumn,
    Math.max(...entries.map(([name, spec]) => label(name, spec).length), label('help', kHelpOption).length) +
      2,
  );
  const entry = (name: string, spec: OptionSpec): string[] => {
    const start = label(name, spec);
    if (start.length + 2 > column) return [start, ...wrap(description(spec), column, ' '.repeat(column))];
    return wrap(description(spec), column, start.padEnd(column));
  };
  const groups = new Map<string, string[]>([['options', []]]);
  for (const [name, spec] of entries) {
    const group = spec.group ?? 'options';
    groups.set(group, [...(groups.get(group) ?? []), ...entry(name, spec)]);
  }
  groups.get('options')?.push(...entry('help', kHelpOption));
  return [...groups].map(([title, lines]) => `${title}:\n${lines.join('\n')}\n`).join('\n');
}
