import type { FunctionEntry } from './function-entry.js';
import { displayName } from './function-entry.js';
import type { ServerJob } from './job.js';
import type { CachedResult } from './result-cache.js';

/**
 * gearmand 1.1.20's text admin replies (libgearman-server/text.cc), byte for byte:
 * lists end with `.\n`; `OK` answers end with `\r\n` except getpid, verbose and version,
 * which end with `\n`; every error ends with `\r\n`. Names are latin1 strings of their
 * bytes, so the reply is encoded latin1 to give the bytes back unchanged.
 */
export const AdminText = {
  OK: 'OK\r\n',
  UNKNOWN_JOB: 'ERR UNKNOWN_JOB\r\n',
  UNKNOWN_ERROR: 'ERR UNKNOWN_ERROR\r\n',
  UNKNOWN_SHOW: 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n',
  FUNCTION_NOT_FOUND: 'ERR function not found\r\n',
  FUNCTION_IN_USE: 'ERR there are still connected workers or executing clients\r\n',
  unknownCommand: (word: string): string => `ERR UNKNOWN_COMMAND Unknown+server+command${word}\r\n`,
  /** gworker's own (`maxrunning` is no gearmand command), in the shape of gearmand's errors. */
  MAX_RUNNING_USAGE:
    'ERR INVALID_ARGUMENTS Usage:+maxrunning+FUNCTION+[N],+N+a+whole+number+from+0+(no+cap)+to+4294967295\r\n',
  incompleteArgs: (word: string): string =>
    `ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+${word}\r\n`,
} as const;

/** gearmand parses at most this many words per line, and drops the connection past them. */
export const MAX_ADMIN_WORDS = 5;

/**
 * Splits a command line into words the way gearmand does: at a space, skipping the
 * spaces that follow; a leading space gives an empty first word, trailing spaces an
 * empty last one. Tabs are not separators.
 */
export function splitAdminWords(line: string): string[] {
  const words: string[] = [];
  let start = 0;
  for (;;) {
    const space = line.indexOf(' ', start);
    if (space === -1) {
      words.push(line.slice(start));
      return words;
    }
    words.push(line.slice(start, space));
    start = space + 1;
    while (line.charCodeAt(start) === 0x20) start++;
  }
}

/** `status`: FUNCTION, TOTAL (queued + running), RUNNING, AVAILABLE_WORKERS. */
export function formatStatus(functions: Iterable<FunctionEntry>): string {
  let out = '';
  for (const fn of functions) out += `${fn.displayName}\t${fn.total}\t${fn.running}\t${fn.workers}\n`;
  return `${out}.\n`;
}

/** `prioritystatus`: FUNCTION, HIGH, NORMAL, LOW (waiting jobs), WORKERS. */
export function formatPriorityStatus(functions: Iterable<FunctionEntry>): string {
  let out = '';
  for (const fn of functions) {
    const [high, normal, low] = fn.waiting;
    out += `${fn.displayName}\t${high}\t${normal}\t${low}\t${fn.workers}\n`;
  }
  return `${out}.\n`;
}

/** What `workers` prints about one connection. */
export interface ConnectionInfo {
  readonly id: number;
  readonly ip: string;
  readonly clientId: string;
  readonly abilities: ReadonlyArray<{ readonly fn: FunctionEntry }>;
}

/**
 * `workers`: one line per connection, clients and this admin connection included:
 * `FD IP CLIENT-ID : FUNC FUNC...`. gworker has no file descriptor to show and prints
 * the connection's number instead.
 */
export function formatWorkers(connections: Iterable<ConnectionInfo>): string {
  let out = '';
  for (const conn of connections) {
    out += `${conn.id} ${conn.ip} ${conn.clientId} :`;
    for (const ability of conn.abilities) out += ` ${ability.fn.displayName}`;
    out += '\n';
  }
  return `${out}.\n`;
}

/** `show jobs`: HANDLE, RETRIES, IGNORE_JOB, JOB_QUEUED as 0/1. */
export function formatShowJobs(jobs: Iterable<ServerJob>): string {
  let out = '';
  for (const job of jobs)
    out += `${job.handle}\t${job.retries}\t${job.ignore ? 1 : 0}\t${job.queuedFlag ? 1 : 0}\n`;
  return `${out}.\n`;
}

/** `show unique jobs`: the unique of every job, an empty line for a job without one. */
export function formatShowUniqueJobs(jobs: Iterable<ServerJob>): string {
  let out = '';
  for (const job of jobs) out += `${job.unique}\n`;
  return `${out}.\n`;
}

/**
 * `show cache` (gworker's own; gearmand has no result cache): one line per cached result,
 * least recently used first, `FUNCTION\tUNIQUE\tBYTES\tAGE_MS`, then `.`.
 */
export function formatShowCache(results: Iterable<CachedResult>): string {
  let out = '';
  for (const result of results) out += `${result.fn}\t${result.unique}\t${result.bytes}\t${result.ageMs}\n`;
  return `${out}.\n`;
}

/**
 * `show maxrunning` (gworker's own; gearmand has no such cap): one line per cap, in the
 * order set, `FUNCTION\tMAX_RUNNING\tRUNNING\tWAITING` (WAITING: jobs not running, as
 * `status` TOTAL minus RUNNING), then `.`. A cap on a function the server does not know
 * yet shows 0 running and 0 waiting.
 */
export function formatShowMaxRunning(
  caps: Iterable<readonly [name: string, cap: number, fn: FunctionEntry | undefined]>,
): string {
  let out = '';
  for (const [name, cap, fn] of caps) {
    const running = fn?.running ?? 0;
    const waiting = fn === undefined ? 0 : fn.total - fn.running;
    out += `${fn?.displayName ?? displayName(name)}\t${cap}\t${running}\t${waiting}\n`;
  }
  return `${out}.\n`;
}
