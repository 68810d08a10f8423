import { runCli } from './dispatch.js';
import type { CliIo } from './io.js';

const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
// Set the exit code and let the event loop drain, so piped output is never cut short.
process.exitCode = await runCli(process.argv.slice(2), io);
