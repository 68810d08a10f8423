import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/dispatch.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with captured output; `stdin` is what the command may read. */
export async function cli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: PassThrough } = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  const io: CliIo = { stdin: options.stdin ?? new PassThrough(), stdout, stderr, env: options.env ?? {} };
  const code = await runCli(args, io);
  return { code, stdout: out, stderr: err };
}
