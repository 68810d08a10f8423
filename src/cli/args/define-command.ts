import type { CliCommand, CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { formatOptions, reflow } from './format-help.js';
import type { OptionSpecs } from './option-spec.js';
import { type CommandLine, parseCommandLine } from './parse-command-line.js';

/** How many words a command takes after its options, and how to say so when they are wrong. */
export interface ArgumentCount {
  readonly min: number;
  /** @defaultValue min */
  readonly max?: number;
  /** Finishes "NAME takes ...": `one manifest file`, `a function name and a concurrency`. */
  readonly shape: string;
}

/** A CLI command as a declaration: the scaffold parses, checks and documents; `run` acts. */
export interface CommandSpec<O extends OptionSpecs> {
  readonly name: string;
  /** What follows `usage: gworker NAME` (several lines for several forms). */
  readonly synopsis: string | readonly string[];
  /** The paragraphs between the usage line and the options. */
  readonly description: string;
  readonly options: O;
  /** @defaultValue none */
  readonly arguments?: ArgumentCount;
  /** The text after the options (exit status, notes). */
  readonly footer: string;
  /**
   * Runs with every option already checked. It may still refuse its positional words
   * (UsageError) but must do so before it acts.
   */
  run(line: Omit<CommandLine<O>, 'help'>, io: CliIo): Promise<number>;
}

/** The command's --help text, generated from its declaration. */
export function formatUsage(spec: CommandSpec<OptionSpecs>): string {
  const forms = typeof spec.synopsis === 'string' ? [spec.synopsis] : spec.synopsis;
  const usage = forms.map((form, i) => `${i === 0 ? 'usage:' : '      '} gworker ${spec.name} ${form}`);
  return `${usage.join('\n')}\n\n${reflow(spec.description)}\n\n${formatOptions(spec.options)}\n${reflow(spec.footer)}\n`;
}

/** Turns a declaration into a CLI command: parse and check everything, print --help, or run. */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): CliCommand {
  return async (argv, io) => {
    const line = parseCommandLine(spec.options, argv);
    if (line.help) {
      io.stdout.write(formatUsage(spec as unknown as CommandSpec<OptionSpecs>));
      return 0;
    }
    const count = spec.arguments ?? { min: 0, shape: 'no arguments' };
    const max = count.max ?? count.min;
    if (line.positionals.length < count.min || line.positionals.length > max) {
      throw new UsageError(`${spec.name} takes ${count.shape}`);
    }
    return spec.run(line, io);
  };
}
