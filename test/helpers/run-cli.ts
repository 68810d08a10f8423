import { PassThrough, type Readable } from 'node:stream';
import { runCli } from '../../src/cli/dispatch.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** The environment the command sees. @defaultValue {} */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Standard input: text (then its end), or a stream the test writes to (and ends).
   * @defaultValue '' (it ends at once)
   */
  readonly stdin?: string | Readable;
  /** Pretend standard output is a terminal this many columns wide. */
  readonly stdoutTty?: { readonly columns: number };
  /** Pretend standard error is a terminal this many columns wide. */
  readonly stderrTty?: { readonly columns: number };
}

/** The one way tests run `gworker ARGS` in this process: captured output, the exit status. */
export async function runCliCaptured(argv: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const stdout = tty(new PassThrough(), options.stdoutTty);
  const stderr = tty(new PassThrough(), options.stderrTty);
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  let stdin: Readable;
  if (typeof options.stdin === 'object') stdin = options.stdin;
  else {
    stdin = new PassThrough();
    (stdin as PassThrough).end(options.stdin ?? '');
  }
  const io: CliIo = { stdin, stdout, stderr, env: options.env ?? {} };
  const code = await runCli(argv, io);
  return { code, stdout: out, stderr: err };
}

function tty(stream: PassThrough, as: { readonly columns: number } | undefined): PassThrough {
  return as === undefined ? stream : Object.assign(stream, { isTTY: true, columns: as.columns });
}
