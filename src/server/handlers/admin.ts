import { MAX_RUNNING_CAP } from '../../limits.js';
import {
  AdminText,
  formatPriorityStatus,
  formatShowCache,
  formatShowJobs,
  formatShowMaxRunning,
  formatShowUniqueJobs,
  formatStatus,
  formatWorkers,
  MAX_ADMIN_WORDS,
  splitAdminWords,
} from '../admin-text.js';
import type { ServerContext } from '../context.js';
import { parseCInteger } from '../numbers.js';
import { asciiLower } from '../registry.js';
import type { Session } from '../session.js';

/** A word of the line as the bytes it came as (latin1), the form names are kept in. */
function bytesOf(word: string): string {
  return Buffer.from(word, 'utf8').toString('latin1');
}

/**
 * Runs one text admin command and answers exactly as gearmand 1.1.20's text.cc,
 * including its order of tests: `cancel` needs three words before it is even
 * recognised, so `cancel` alone is an unknown command, while `cancel foo bar` is an
 * UNKNOWN_ERROR. `shutdown` was removed from gearmand in 2016 and is unknown here too:
 * use SIGTERM or SIGUSR1.
 */
export function handleAdminLine(ctx: ServerContext, session: Session, line: string): void {
  const words = splitAdminWords(line);
  if (words.length > MAX_ADMIN_WORDS) {
    // gearmand drops the connection without a word; an ERR line first tells the user why.
    ctx.logger.warn({ conn: session.id, words: words.length }, 'admin command with too many words, closing');
    session.sendText('ERR INVALID_ARGUMENTS Too+many+arguments+were+sent+to+this+command\r\n');
    session.end();
    return;
  }
  session.sendText(adminReply(ctx, words));
}

function adminReply(ctx: ServerContext, words: readonly string[]): string {
  const first = words[0] as string;
  const command = asciiLower(first);
  const argc = words.length;
  const lower = (i: number): string => asciiLower(words[i] ?? '');
  switch (command) {
    case 'workers':
      return formatWorkers(ctx.sessions());
    case 'prioritystatus':
      return formatPriorityStatus(ctx.registry.values());
    case 'status':
      return formatStatus(ctx.registry.values());
  }
  if (argc >= 3 && command === 'cancel') {
    if (argc !== 3 || lower(1) !== 'job') return AdminText.UNKNOWN_ERROR;
    return ctx.engine.cancel(bytesOf(words[2] as string)) ? AdminText.OK : AdminText.UNKNOWN_JOB;
  }
  if (argc >= 2 && command === 'show') {
    if (argc === 3 && lower(1) === 'unique' && lower(2) === 'jobs')
      return formatShowUniqueJobs(ctx.engine.jobs());
    if (argc === 2 && lower(1) === 'jobs') return formatShowJobs(ctx.engine.jobs());
    if (argc === 2 && lower(1) === 'cache') return formatShowCache(ctx.engine.resultCache.list());
    if (argc === 2 && lower(1) === 'maxrunning') return formatShowMaxRunning(ctx.registry.caps());
    return AdminText.UNKNOWN_SHOW;
  }
  switch (command) {
    case 'create':
      if (argc !== 3 || lower(1) !== 'function') return AdminText.incompleteArgs(bytesOf(first));
      // gearmand 1.1.20 cuts the last byte off the name when the line ends in a bare LF;
      // the name is taken whole here.
      ctx.registry.getOrCreate(bytesOf(words[2] as string));
      return AdminText.OK;
    case 'drop': {
      if (argc !== 3 || lower(1) !== 'function') return AdminText.incompleteArgs(bytesOf(first));
      const fn = ctx.registry.findIgnoringCase(bytesOf(words[2] as string));
      if (fn === undefined) return AdminText.FUNCTION_NOT_FOUND;
      return ctx.engine.dropFunction(fn) === 'dropped' ? AdminText.OK : AdminText.FUNCTION_IN_USE;
    }
    case 'maxqueue':
      return maxQueue(ctx, words);
    case 'maxrunning':
      return maxRunning(ctx, words);
    case 'getpid':
      return `OK ${process.pid}\n`;
    case 'verbose':
      return `OK ${ctx.verboseLevel}\n`;
    case 'version':
      return `OK ${ctx.version}\n`;
    default:
      return AdminText.unknownCommand(bytesOf(first));
  }
}

/**
 * `maxqueue FUNC [N | H N L]`: sizes read with atoi, negatives as 0 (no limit); one
 * size (or none) sets all three. Applied only to a function the server knows, and OK
 * either way, as gearmand.
 */
function maxQueue(ctx: ServerContext, words: readonly string[]): string {
  if (words.length === 1) return AdminText.incompleteArgs(bytesOf(words[0] as string));
  const sizes: [number, number, number] = [0, 0, 0];
  for (let priority = 0; priority < 3; priority++) {
    const word = words[priority + 2];
    if (word !== undefined) {
      const value = parseCInteger(Buffer.from(word, 'utf8'));
      sizes[priority] = Math.min(Math.max(value, 0), 0xffffffff);
    }
  }
  if (words.length <= 3) sizes.fill(sizes[0]);
  const fn = ctx.registry.get(bytesOf(words[1] as string));
  if (fn !== undefined) fn.maxQueue.splice(0, 3, ...sizes);
  return AdminText.OK;
}

/**
 * `maxrunning FUNC [N]` (gworker's own): at most N jobs of FUNC run at once across all
 * workers; no N, or 0, removes the cap. Unlike `maxqueue`, it holds for a function the
 * server does not know yet, and N must be a plain decimal number: a typo is refused
 * rather than read as 0, which would lift the cap.
 */
function maxRunning(ctx: ServerContext, words: readonly string[]): string {
  if (words.length === 1) return AdminText.incompleteArgs(bytesOf(words[0] as string));
  const word = words[2] || '0'; // a trailing space leaves an empty word: no N
  if (words.length > 3 || !/^[0-9]{1,10}$/.test(word) || Number(word) > MAX_RUNNING_CAP)
    return AdminText.MAX_RUNNING_USAGE;
  ctx.engine.setMaxRunning(bytesOf(words[1] as string), Number(word));
  return AdminText.OK;
}
