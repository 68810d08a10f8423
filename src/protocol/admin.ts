import {
  type FunctionPriorityStatus,
  type FunctionStatus,
  isErrorLine,
  type JobInfo,
  parseGetPid,
  parseOk,
  parsePriorityStatus,
  parseShowJobs,
  parseShowUniqueJobs,
  parseStatus,
  parseVerbose,
  parseVersion,
  parseWorkers,
  throwIfError,
  type WorkerInfo,
} from './admin-replies.js';

/**
 * How gearmand frames the reply to a text command: `list` replies are lines ended by a
 * line holding only `.`; `line` replies are one line (`OK ...`). Either kind may instead
 * be a single `ERR ...` line. Knowing the shape per command is what lets several
 * commands share one socket: the reader can tell where each reply ends.
 */
export type AdminReplyShape = 'list' | 'line';

/** A text admin command ready to send, with the parser for its reply. */
export interface AdminCommand<T> {
  /** The command line without its line ending. */
  readonly line: string;
  readonly shape: AdminReplyShape;
  /** Parses the reply lines (a list's `.` removed); throws AdminError on `ERR`. */
  parse(lines: readonly string[]): T;
}

/** Sizes for `maxqueue`: one for every priority, or one per priority. 0 means no limit. */
export type MaxQueueSizes = number | { readonly high: number; readonly normal: number; readonly low: number };

const kListCommands = new Set(['workers', 'status', 'prioritystatus']);

/**
 * The reply shape gearmand 1.1.20 gives a command line, read the way it reads it
 * (libgearman-server/text.cc): words split on single spaces, the first compared without
 * case; `show` takes at least one more word. Anything it does not list answers one line.
 */
export function replyShapeOf(line: string): AdminReplyShape {
  const words = line.split(' ');
  const name = (words[0] as string).toLowerCase();
  if (kListCommands.has(name)) return 'list';
  if (name === 'show' && words.length >= 2) return 'list';
  return 'line';
}

/**
 * Collects the lines of one reply: push() each line as it arrives; it returns true when
 * the reply is whole. A list ends at `.`; an `ERR` line as the first line ends any reply.
 * A `.` inside a list (a unique id or function named ".") is indistinguishable from the
 * end: gearmand does not escape it, and gearadmin reads it the same way.
 */
export class AdminReplyReader {
  /** The shape this reader expects, from the command it reads the reply of. */
  readonly shape: AdminReplyShape;
  readonly #lines: string[] = [];
  #done = false;

  constructor(shape: AdminReplyShape) {
    this.shape = shape;
  }

  /** The reply's lines, without a list's terminating `.`. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** True once the reply is whole. */
  get done(): boolean {
    return this.#done;
  }

  /** Adds one line (its line ending removed); returns true when the reply is whole. */
  push(line: string): boolean {
    if (this.#done) throw new Error('AdminReplyReader: the reply is already complete');
    if (this.shape === 'line' || (this.#lines.length === 0 && isErrorLine(line))) {
      this.#lines.push(line);
      this.#done = true;
    } else if (line === '.') {
      this.#done = true;
    } else {
      this.#lines.push(line);
    }
    return this.#done;
  }
}

/**
 * Checks one word of a command line: gearmand splits on spaces and ends the line at a
 * newline, so a word holding either (or a NUL, which ends its C string) cannot be sent.
 */
function word(what: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${what} must be a non-empty string`);
  if (/[\s\0]/.test(value)) throw new TypeError(`${what} must not contain spaces, tabs, newlines or NUL`);
  return value;
}

function queueSize(what: string, value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new RangeError(`${what} must be an integer from 0 (no limit) to 2147483647, got ${value}`);
  }
  return String(value);
}

const command = <T>(line: string, shape: AdminReplyShape, parse: (lines: readonly string[]) => T) => ({
  line,
  shape,
  parse,
});

const ok = (name: string) => (lines: readonly string[]) => {
  parseOk(name, lines);
};

/** `status`: jobs and workers per function. */
export const statusCommand = (): AdminCommand<FunctionStatus[]> => command('status', 'list', parseStatus);

/** `prioritystatus`: queued jobs per function and priority. */
export const priorityStatusCommand = (): AdminCommand<FunctionPriorityStatus[]> =>
  command('prioritystatus', 'list', parsePriorityStatus);

/** `workers`: every connection with its client id and registered functions. */
export const workersCommand = (): AdminCommand<WorkerInfo[]> => command('workers', 'list', parseWorkers);

/** `show jobs`: every job the server holds. */
export const showJobsCommand = (): AdminCommand<JobInfo[]> => command('show jobs', 'list', parseShowJobs);

/** `show unique jobs`: the unique id of every job. */
export const showUniqueJobsCommand = (): AdminCommand<string[]> =>
  command('show unique jobs', 'list', parseShowUniqueJobs);

/** `version`: the server's version string. */
export const versionCommand = (): AdminCommand<string> => command('version', 'line', parseVersion);

/** `getpid`: the server's process id. */
export const getPidCommand = (): AdminCommand<number> => command('getpid', 'line', parseGetPid);

/** `verbose`: the server's log level name (gearmand ignores any argument; it only reports). */
export const verboseCommand = (): AdminCommand<string> => command('verbose', 'line', parseVerbose);

/**
 * `maxqueue FUNC N` or `maxqueue FUNC H N L`. gearmand compares the limit of the new
 * job's priority with the function's total (queued plus running) jobs, and applies it
 * only to a function it already knows: it answers OK for an unknown one and changes nothing.
 */
export function maxQueueCommand(fn: string, sizes: MaxQueueSizes): AdminCommand<void> {
  const name = word('function name', fn);
  const args =
    typeof sizes === 'number'
      ? [queueSize('size', sizes)]
      : [queueSize('high', sizes.high), queueSize('normal', sizes.normal), queueSize('low', sizes.low)];
  return command(`maxqueue ${name} ${args.join(' ')}`, 'line', ok('maxqueue'));
}

/**
 * `maxrunning FUNC N` (gworker's server only; gearmand answers ERR UNKNOWN_COMMAND): at
 * most N jobs of FUNC run at once across all workers; 0 removes the cap.
 */
export function maxRunningCommand(fn: string, cap: number): AdminCommand<void> {
  if (!Number.isInteger(cap) || cap < 0 || cap > 0xffffffff) {
    throw new RangeError(`cap must be an integer from 0 (no cap) to 4294967295, got ${cap}`);
  }
  return command(`maxrunning ${word('function name', fn)} ${cap}`, 'line', ok('maxrunning'));
}

/** `cancel job HANDLE`: answers `ERR UNKNOWN_JOB` for a handle the server does not hold. */
export const cancelJobCommand = (handle: string): AdminCommand<void> =>
  command(`cancel job ${word('job handle', handle)}`, 'line', ok('cancel job'));

/** `create function F`: makes the server know a function with no workers or jobs. */
export const createFunctionCommand = (fn: string): AdminCommand<void> =>
  command(`create function ${word('function name', fn)}`, 'line', ok('create function'));

/** `drop function F`: forgets a function that has no workers and no running jobs. */
export const dropFunctionCommand = (fn: string): AdminCommand<void> =>
  command(`drop function ${word('function name', fn)}`, 'line', ok('drop function'));

/**
 * Any command line, sent as is; the reply's lines come back unparsed (a list's `.`
 * removed), or an AdminError for `ERR`.
 */
export function rawCommand(line: string): AdminCommand<string[]> {
  if (typeof line !== 'string' || line.trim() === '') throw new TypeError('command line must not be empty');
  if (/[\r\n\0]/.test(line)) throw new TypeError('command line must be one line, without CR, LF or NUL');
  return command(line, replyShapeOf(line), (lines) => {
    throwIfError(lines);
    return [...lines];
  });
}

/**
 * The bytes to send for a command. Always CRLF: gearmand 1.1.20's `create function`
 * takes the name's length as the argument's size minus 2, which is right only when the
 * line ends in CRLF; with a bare LF it creates the name less its last character.
 */
export function encodeAdminCommand(cmd: AdminCommand<unknown>): Buffer {
  return Buffer.from(`${cmd.line}\r\n`, 'utf8');
}
