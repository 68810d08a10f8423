import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** A handler that failed to load, with where in its source it failed when that is known. */
export class HandlerLoadFailure extends Error {
  /** FILE:LINE:COLUMN, or FILE when no line is known. */
  readonly at: string;
  constructor(name: string, message: string, at: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.at = at;
  }
}

const kTransformFailed = /^Transform failed with \d+ errors?:\n(.+?):(\d+):(\d+): (?:ERROR: )?(.*)$/m;
/** `node --check` gives the most a syntax error should take: it is only run after one. */
const kCheckTimeoutMs = 10_000;

/**
 * Says where a handler module failed to load. A TypeScript file's syntax error comes
 * from tsx as "Transform failed with 1 error:\nFILE:LINE:COL: ERROR: ...", but a .js
 * file's comes from V8 through import() with no position at all ("Unexpected end of
 * input"): for that one `node --check` parses the file again and prints the line, with a
 * caret under the column. An error thrown while the module ran names the file's frame
 * in its stack.
 */
export function locateLoadFailure(err: unknown, file: string): unknown {
  if (!(err instanceof Error)) return err;
  const transform = kTransformFailed.exec(err.message);
  if (transform !== null) {
    const [, where, line, column, text] = transform as unknown as [string, string, string, string, string];
    return new HandlerLoadFailure('SyntaxError', text, `${where}:${line}:${column}`, { cause: err });
  }
  // In a checkout, .js handlers go through tsx too, whose lexer says only "Parse error".
  if (err.name === 'SyntaxError' || err.message.startsWith('Parse error')) {
    const checked = checkSyntax(file);
    if (checked !== null)
      return new HandlerLoadFailure('SyntaxError', checked.message, checked.at, { cause: err });
  }
  return withAt(err, frameIn(err.stack ?? '', file) ?? file);
}

function withAt(err: Error, at: string): Error {
  return Object.assign(err, { at });
}

/** FILE:LINE:COL of the first stack frame in `file` (by path or file: URL). */
function frameIn(stack: string, file: string): string | null {
  const url = pathToFileURL(file).href;
  for (const line of stack.split('\n')) {
    for (const name of [url, file]) {
      const at = line.indexOf(name);
      if (at < 0) continue;
      const rest = line.slice(at + name.length).replace(/^\?[^:]*/, '');
      const match = /^:(\d+):(\d+)/.exec(rest);
      if (match) return `${file}:${match[1]}:${match[2]}`;
    }
  }
  return null;
}

/** Re-parses `file` with `node --check`: its message and FILE:LINE:COL, or null. */
function checkSyntax(file: string): { message: string; at: string } | null {
  const run = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: kCheckTimeoutMs });
  const lines = (run.stderr ?? '').split('\n');
  // FILE:LINE, the source line, a caret line under the column, a blank, "SyntaxError: ...".
  const head = /^(.*):(\d+)$/.exec(lines[0] ?? '');
  const caret = (lines[2] ?? '').indexOf('^');
  const error = lines.find((l) => /^SyntaxError: /.test(l));
  if (head === null || error === undefined) return null;
  const column = caret >= 0 ? caret + 1 : 1;
  return { message: error.replace(/^SyntaxError: /, ''), at: `${file}:${head[2]}:${column}` };
}
