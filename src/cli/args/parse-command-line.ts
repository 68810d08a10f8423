import { parseArgs } from 'node:util';
import { UsageError } from '../io.js';
import type { OptionSpecs, OptionValues } from './option-spec.js';
import { OptionValueError, optionValue } from './option-values.js';
import { nearest } from './suggest.js';

export interface CommandLine<O extends OptionSpecs> {
  readonly values: OptionValues<O>;
  readonly positionals: readonly string[];
  /** The options given on the command line (not defaulted). */
  readonly given: ReadonlySet<string>;
  /** `--help` or `-h` was given. */
  readonly help: boolean;
}

/**
 * Reads a command's arguments against its declared options and checks every value,
 * so that a command acts only on a command line that is valid as a whole. node's
 * parseArgs splits the words (`--x=v`, `-abc`, `--`); it runs non-strict so that the
 * errors are ours: one line naming the option and what it expected. Throws UsageError.
 */
export function parseCommandLine<O extends OptionSpecs>(options: O, argv: readonly string[]): CommandLine<O> {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(options)) {
    config[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.type === 'list' ? { multiple: true } : {}),
    };
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const texts = new Map<string, string[]>();
  const positionals: string[] = [];
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    if (token.name === 'help') {
      help = true;
      continue;
    }
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (spec === undefined) {
      const guess = token.rawName.startsWith('--') ? nearest(token.name, Object.keys(options)) : undefined;
      throw new UsageError(
        `unknown option ${token.rawName}${guess === undefined ? '' : ` (did you mean --${guess}?)`}`,
      );
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined)
        throw new UsageError(`--${token.name} takes no value, got "${token.value}"`);
      texts.set(token.name, ['']);
      continue;
    }
    if (token.value === undefined)
      throw new UsageError(`--${token.name} needs a value (${spec.value ?? kTypeWord[spec.type]})`);
    texts.set(token.name, [...(texts.get(token.name) ?? []), token.value]);
  }
  const given = new Set(texts.keys());
  if (help) return { values: {} as OptionValues<O>, positionals, given, help };
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const given = texts.get(name);
    if (spec.type === 'boolean') values[name] = given !== undefined;
    else if (spec.type === 'list') values[name] = given ?? [];
    else if (given === undefined) values[name] = spec.default;
    else {
      try {
        // The last one given wins, as in most tools; a bad earlier one is still a mistake.
        for (const text of given) values[name] = optionValue(spec, text);
      } catch (err) {
        if (!(err instanceof OptionValueError)) throw err;
        throw new UsageError(`--${name}: ${err.message}`);
      }
    }
  }
  return { values: values as OptionValues<O>, positionals, given, help };
}

/** The word --help shows for a value when the option names none. */
export const kTypeWord = {
  string: 'VALUE',
  integer: 'N',
  duration: 'DURATION',
  size: 'SIZE',
  list: 'VALUE',
} as const;
