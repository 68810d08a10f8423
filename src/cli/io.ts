import type { Readable, Writable } from 'node:stream';

/**
 * What a CLI command may touch. Commands return an exit code and never call
 * process.exit themselves, so they can be tested in-process with fake streams.
 */
export interface CliIo {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

/** A command of the gworker CLI: takes the arguments after its name, returns the exit code. */
export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<number>;

/** A usage error: the CLI prints the message and the command's help, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
