import { type LevelWithSilent, type Logger as PinoLogger, pino } from 'pino';
import type { CliIo } from './io.js';
import { prettyDestination } from './pretty-log.js';

const kLevels: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function parseLogLevel(
  value: string | undefined,
  fallback: LevelWithSilent = 'info',
): LevelWithSilent {
  if (value === undefined) return fallback;
  if ((kLevels as readonly string[]).includes(value)) return value as LevelWithSilent;
  throw new TypeError(`--log-level must be one of ${kLevels.join(', ')}`);
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
