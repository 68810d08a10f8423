import type { Logger } from '../../src/log.js';

export interface LogEntry {
  readonly level: string;
  readonly obj: unknown;
  readonly msg: string | undefined;
}

/** A logger that keeps every line in `lines`, for tests that count them. */
export function recordingLogger(lines: LogEntry[]): Logger {
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  const logger: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

/** The lines whose message contains `text`. */
export function linesWith(lines: readonly LogEntry[], text: string): LogEntry[] {
  return lines.filter((line) => line.msg?.includes(text) === true);
}
