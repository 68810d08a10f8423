import { type LevelWithSilent, type Logger as PinoLogger, pino } from 'pino';
import type { StringOption } from './args/option-spec.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { prettyDestination } from './pretty-log.js';

const kLevels: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The --log-level option of the commands that log (start, server). */
export const kLogLevelOption = {
  type: 'string',
  value: 'LEVEL',
  choices: kLevels,
  help: 'trace, debug, info (default), warn, error, fatal or silent; $GWORKER_LOG_LEVEL when not given',
} as const satisfies StringOption;

/** The level --log-level (checked already) or $GWORKER_LOG_LEVEL asks for; a bad variable is a usage error. */
export function logLevel(flag: string | undefined, io: CliIo): LevelWithSilent {
  const value = flag ?? io.env.GWORKER_LOG_LEVEL;
  if (value === undefined || value === '') return 'info';
  if ((kLevels as readonly string[]).includes(value)) return value as LevelWithSilent;
  throw new UsageError(`GWORKER_LOG_LEVEL: expected one of ${kLevels.join(', ')}, got "${value}"`);
}

/**
 * The CLI owns the root logger: JSON lines with every field when stderr is a pipe or a
 * file (for log shippers), one coloured line per event on a terminal (cli/pretty-log.ts).
 * Logs go to stderr so that stdout stays for command output.
 */
export function createLogger(io: CliIo, level: LevelWithSilent, name: string): PinoLogger {
  const options = { name, level, base: { pid: process.pid } };
  const stream = io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
  if (stream.isTTY) {
    const stacks = level === 'debug' || level === 'trace';
    return pino(options, prettyDestination(stream, { colors: true, stacks }));
  }
  return pino(options, stream);
}
