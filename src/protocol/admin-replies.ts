import { AdminError, ProtocolError } from '../errors.js';

/** One row of `status`. */
export interface FunctionStatus {
  /** The function name. */
  readonly function: string;
  /** Jobs the server holds for the function: queued plus running. */
  readonly total: number;
  readonly running: number;
  /** Connections that registered the function (CAN_DO), busy or idle. */
  readonly availableWorkers: number;
}

/** One row of `prioritystatus`: queued (not running) jobs per priority. */
export interface FunctionPriorityStatus {
  /** The function name. */
  readonly function: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  /** Connections that registered the function. */
  readonly workers: number;
}

/** One row of `workers`: gearmand lists every connection, clients and admin ones included. */
export interface WorkerInfo {
  /** The connection's file descriptor on the server. */
  readonly fd: number;
  /** The peer's address as the server sees it. */
  readonly ip: string;
  /** What the connection set with SET_CLIENT_ID, or `-` when it set none. */
  readonly clientId: string;
  /** Functions the connection registered, in the server's order (latest first on gearmand). */
  readonly functions: readonly string[];
}

/** One row of `show jobs`. */
export interface JobInfo {
  /** The job handle, e.g. `H:host:42`. */
  readonly handle: string;
  /** Times the job went back to the queue because its worker disconnected. */
  readonly retries: number;
  /** Every client of a foreground job left, or the job was cancelled: it is dropped when reached. */
  readonly ignoreJob: boolean;
  /** The job is stored in the persistent queue (gearmand's `job_queued`: background jobs). */
  readonly queued: boolean;
}

/** Where a reply line sits, for errors about a malformed reply. */
function malformed(command: string, lines: readonly string[], index: number, why: string): ProtocolError {
  let offset = 0;
  for (let i = 0; i < index; i++) offset += (lines[i] as string).length + 1;
  const line = lines[index] ?? '';
  return new ProtocolError(`malformed reply to admin command "${command}": ${why}: ${JSON.stringify(line)}`, {
    reason: 'malformed-reply',
    offset,
    preview: Buffer.from(line.slice(0, 32), 'utf8').toString('hex'),
  });
}

const kErrPrefix = 'ERR ';
/** gearmand's coded errors look like `ERR UNKNOWN_JOB` or `ERR INVALID_ARGUMENTS some+text`. */
const kCode = /^[A-Z][A-Z0-9_]*$/;
/** `drop function` answers in free text; these give those answers stable codes. */
const kFreeTextCodes: Record<string, string> = {
  'function not found': 'FUNCTION_NOT_FOUND',
  'there are still connected workers or executing clients': 'FUNCTION_IN_USE',
};

/** True when a reply line is an `ERR ...` answer. */
export function isErrorLine(line: string): boolean {
  return line.startsWith(kErrPrefix) || line === 'ERR';
}

/**
 * Turns an `ERR` line into an AdminError. Coded errors keep gearmand's code and have the
 * '+' it puts for spaces decoded; the free-text answers of `drop function` get the codes
 * FUNCTION_NOT_FOUND and FUNCTION_IN_USE, and any other free text the code `ERR`.
 */
export function adminErrorFromLine(line: string): AdminError {
  const rest = line.slice(kErrPrefix.length).trim();
  const space = rest.indexOf(' ');
  const first = space === -1 ? rest : rest.slice(0, space);
  if (first !== '' && kCode.test(first)) {
    const text = space === -1 ? '' : rest.slice(space + 1);
    return new AdminError(first, text.replaceAll('+', ' '));
  }
  return new AdminError(kFreeTextCodes[rest] ?? 'ERR', rest);
}

/** Throws the AdminError when the reply is an `ERR` line. */
export function throwIfError(lines: readonly string[]): void {
  const first = lines[0];
  if (first !== undefined && isErrorLine(first)) throw adminErrorFromLine(first);
}

function count(command: string, lines: readonly string[], index: number, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw malformed(command, lines, index, 'expected a count');
  return Number(text);
}

/**
 * Splits a tab-separated row whose last `numbers` fields are counts. The name is
 * everything before them, so a function name that holds a tab still parses.
 */
function splitCounts(
  command: string,
  lines: readonly string[],
  index: number,
  numbers: number,
): { name: string; counts: number[] } {
  const fields = (lines[index] as string).split('\t');
  if (fields.length < numbers + 1) throw malformed(command, lines, index, `expected ${numbers + 1} fields`);
  const tail = fields.splice(fields.length - numbers, numbers);
  return { name: fields.join('\t'), counts: tail.map((text) => count(command, lines, index, text)) };
}

/** Parses `status` reply lines (the terminating `.` already removed). */
export function parseStatus(lines: readonly string[]): FunctionStatus[] {
  throwIfError(lines);
  return lines.map((_, i) => {
    const { name, counts } = splitCounts('status', lines, i, 3);
    const [total, running, availableWorkers] = counts as [number, number, number];
    return { function: name, total, running, availableWorkers };
  });
}

/** Parses `prioritystatus` reply lines. */
export function parsePriorityStatus(lines: readonly string[]): FunctionPriorityStatus[] {
  throwIfError(lines);
  return lines.map((_, i) => {
    const { name, counts } = splitCounts('prioritystatus', lines, i, 4);
    const [high, normal, low, workers] = counts as [number, number, number, number];
    return { function: name, high, normal, low, workers };
  });
}

/**
 * Parses `workers` reply lines: `FD IP CLIENT-ID : FUNC FUNC...`. gearmand writes
 * names unquoted, so a client id holding " : " or a function name holding a space
 * cannot be told apart; the first " :" after the address ends the client id.
 */
export function parseWorkers(lines: readonly string[]): WorkerInfo[] {
  throwIfError(lines);
  return lines.map((line, i) => {
    const m = /^(\d+) (\S+) (.*?) :(?: (.*))?$/.exec(line);
    if (m === null) throw malformed('workers', lines, i, 'expected "FD IP CLIENT-ID : FUNCTIONS"');
    const list = m[4] ?? '';
    return {
      fd: Number(m[1]),
      ip: m[2] as string,
      clientId: m[3] as string,
      functions: list === '' ? [] : list.split(' '),
    };
  });
}

function flag(command: string, lines: readonly string[], index: number, text: string | undefined): boolean {
  if (text !== '0' && text !== '1') throw malformed(command, lines, index, 'expected 0 or 1');
  return text === '1';
}

/** Parses `show jobs` reply lines: `HANDLE\tRETRIES\tIGNORE_JOB\tJOB_QUEUED`. */
export function parseShowJobs(lines: readonly string[]): JobInfo[] {
  throwIfError(lines);
  return lines.map((line, i) => {
    const fields = line.split('\t');
    if (fields.length !== 4) throw malformed('show jobs', lines, i, 'expected 4 fields');
    const [handle, retries, ignore, queued] = fields as [string, string, string, string];
    return {
      handle,
      retries: count('show jobs', lines, i, retries),
      ignoreJob: flag('show jobs', lines, i, ignore),
      queued: flag('show jobs', lines, i, queued),
    };
  });
}

/** Parses `show unique jobs` reply lines: one unique id per line. */
export function parseShowUniqueJobs(lines: readonly string[]): string[] {
  throwIfError(lines);
  return [...lines];
}

/** Parses a one-line `OK` reply and returns what follows `OK ` ('' for a bare `OK`). */
export function parseOk(command: string, lines: readonly string[]): string {
  throwIfError(lines);
  const line = lines[0];
  if (lines.length !== 1 || line === undefined || !(line === 'OK' || line.startsWith('OK '))) {
    throw malformed(command, lines, 0, 'expected "OK"');
  }
  return line.slice(3);
}

/** Parses the `getpid` reply `OK <pid>`. */
export function parseGetPid(lines: readonly string[]): number {
  const text = parseOk('getpid', lines);
  if (!/^\d+$/.test(text)) throw malformed('getpid', lines, 0, 'expected "OK <pid>"');
  return Number(text);
}

/** Parses the `version` reply `OK <version>`, e.g. `1.1.20+ds`. */
export function parseVersion(lines: readonly string[]): string {
  const text = parseOk('version', lines);
  if (text === '') throw malformed('version', lines, 0, 'expected "OK <version>"');
  return text;
}

/** Parses the `verbose` reply `OK <LEVEL>`, e.g. `INFO`. */
export function parseVerbose(lines: readonly string[]): string {
  const text = parseOk('verbose', lines);
  if (text === '') throw malformed('verbose', lines, 0, 'expected "OK <LEVEL>"');
  return text;
}
