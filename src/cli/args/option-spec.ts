/**
 * What a command's option is: its name is the key it is declared under, and these say
 * how it is written, what its value means and how --help describes it. The scaffold
 * (parse-command-line.ts) checks every value against this before the command runs.
 */
interface OptionBase {
  /** A one-letter alias: `-c` for `--config`. */
  readonly short?: string;
  /** What it does, for --help (wrapped to 80 columns; "\n" forces a break). */
  readonly help: string;
  /** The value's name in --help (FILE, ADDR); the type's own word when absent. */
  readonly value?: string;
  /** A heading to list it under in --help, after the command's other options. */
  readonly group?: string;
}

/** Text, taken as given; empty text is refused. */
export interface StringOption extends OptionBase {
  readonly type: 'string';
  readonly default?: string;
  /** The only values accepted. */
  readonly choices?: readonly string[];
  /** Turns the text into the value; a throw is reported as a bad value of this option. */
  readonly parse?: (text: string) => unknown;
}

/** A flag: present or not. */
export interface BooleanOption extends OptionBase {
  readonly type: 'boolean';
}

/** A whole number from `min` to `max`. */
export interface IntegerOption extends OptionBase {
  readonly type: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}

/** A duration with its unit (`250ms`, `5s`, `2m`, `1h`), in milliseconds; bare `0` is 0. */
export interface DurationOption extends OptionBase {
  readonly type: 'duration';
  /** @defaultValue 1 (a zero wait is a mistake unless the option says what 0 means) */
  readonly min?: number;
  /** @defaultValue MAX_TIMER_MS from src/limits.ts (2^31-1 ms, the longest a Node timer waits) */
  readonly max?: number;
  readonly default?: number;
}

/** A byte count, with an optional unit (`512KiB`, `64MiB`, `1g`). */
export interface SizeOption extends OptionBase {
  readonly type: 'size';
  readonly default?: number;
}

/** Text that may be given several times; the values in the order given. */
export interface ListOption extends OptionBase {
  readonly type: 'list';
}

export type OptionSpec =
  | StringOption
  | BooleanOption
  | IntegerOption
  | DurationOption
  | SizeOption
  | ListOption;

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S> = S extends { readonly type: 'boolean' }
  ? boolean
  : S extends { readonly type: 'list' }
    ? string[]
    : S extends { readonly type: 'string'; readonly parse: (text: string) => infer T }
      ? T
      : S extends { readonly type: 'string' }
        ? string
        : number;

/** The checked values of a command's options: flags and lists always have one; others when given or defaulted. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { readonly type: 'boolean' | 'list' } | { readonly default: unknown }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};
