/**
 * Log lines for a person at a terminal: one line per event, `TIME LEVEL message
 * key=value...`. The JSON lines (stderr not a terminal) keep every field; here a field
 * is left out when the message says it already, and an error shows as its type and
 * message. Stacks show only for a handler's own errors (records marked `handlerError`)
 * and at debug level: an address in use or a rejected reload is one line (plus a hint
 * for the errors that have an obvious fix), as gearmand prints it, not a stack of
 * gworker's internals.
 */

export interface PrettyOptions {
  readonly colors: boolean;
  /** Show every error's stack (at debug and trace level). */
  readonly stacks: boolean;
}

type LogRecord = Record<string, unknown>;

const kLevels: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '34' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};
/** Fields that are bookkeeping for log shippers, or shown another way. */
const kHidden = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'name',
  'msg',
  'err',
  'component',
  'handlerError',
]);
const kMaxValue = 80;

/** What to do about an error whose fix is always the same. */
const kHints: Record<string, (err: LogRecord) => string> = {
  EADDRINUSE: (err) =>
    `another process listens on ${where(err)} (gearmand, or another gworker?): stop it, or choose another port in the manifest (0 picks a free one)`,
  EACCES: (err) =>
    `not allowed to listen on ${where(err)}: ports below 1024 need privileges; choose another port`,
  EADDRNOTAVAIL: (err) => `${where(err)} is not an address of this machine`,
};

/** One log record (a parsed JSON line) as the text a terminal shows, ending in a newline. */
export function formatPretty(record: LogRecord, options: PrettyOptions): string {
  const paint = (code: string, text: string) => (options.colors ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = kLevels[record.level as number] ?? { name: String(record.level), color: '0' };
  const msg = typeof record.msg === 'string' ? record.msg : '';
  const parts = [paint('2', clock(record.time)), paint(level.color, level.name), msg];
  const err = isRecord(record.err) ? record.err : null;
  if (err !== null && typeof err.message === 'string' && !msg.includes(err.message)) {
    parts.push(`${msg === '' ? '' : '- '}${errorType(err)}${err.message}`);
  }
  const fields = fieldsOf(record, msg);
  if (fields !== '') parts.push(paint('2', fields));
  let text = parts.filter((p) => p !== '').join(' ');
  const code = err !== null && typeof err.code === 'string' ? err.code : undefined;
  const hint = code === undefined ? undefined : kHints[code];
  if (hint !== undefined) text += `\n  ${paint('36', 'hint:')} ${hint(err as LogRecord)}`;
  const showStack = options.stacks || record.handlerError === true;
  if (err !== null && showStack && typeof err.stack === 'string') {
    text += `\n${indent(stackFrames(err.stack))}`;
  }
  return `${text}\n`;
}

function fieldsOf(record: LogRecord, msg: string): string {
  const shown: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (kHidden.has(key) || value === undefined) continue;
    const text = valueText(value);
    // Said already: `control API on http://...` needs no url=http://...
    if (text === null || text === '' || (text.length > 2 && msg.includes(text))) continue;
    shown.push(`${key}=${text}`);
  }
  return shown.join(' ');
}

function valueText(value: unknown): string | null {
  if (typeof value === 'string') return clip(/\s/.test(value) ? JSON.stringify(value) : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
    return clip(value.join(','));
  }
  return null;
}

function errorType(err: LogRecord): string {
  const type = typeof err.type === 'string' ? err.type : '';
  return type === '' || type === 'Error' ? '' : `${type}: `;
}

/** The frames after the stack's first line (which repeats the message). */
function stackFrames(stack: string): string {
  return stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim())
    .join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

function where(err: LogRecord): string {
  if (typeof err.address === 'string' && err.port !== undefined) return `${err.address}:${err.port}`;
  return 'that address';
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now());
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function clip(text: string): string {
  return text.length > kMaxValue ? `${text.slice(0, kMaxValue)}…` : text;
}

function isRecord(value: unknown): value is LogRecord {
  return typeof value === 'object' && value !== null;
}

/**
 * A pino destination that writes each record as formatPretty's line. pino hands a
 * destination one JSON line per write; anything that does not parse goes out as is.
 */
export function prettyDestination(
  out: { write(text: string): unknown },
  options: PrettyOptions,
): { write(line: string): void } {
  return {
    write(line: string): void {
      let record: LogRecord;
      try {
        record = JSON.parse(line) as LogRecord;
      } catch {
        out.write(line);
        return;
      }
      out.write(formatPretty(record, options));
    },
  };
}
