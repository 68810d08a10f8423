import { parseArgs } from 'node:util';
import type { FunctionReport } from '../../supervisor/control/status-document.js';
import {
  ControlClient,
  controlHelp,
  controlOptions,
  parseTimeout,
  resolveControlTarget,
} from '../control-client.js';
import type { CliCommand } from '../io.js';
import { UsageError } from '../io.js';

/** `gworker pause` and `gworker resume` differ only in the word: one implementation. */
export function pauseResumeCommand(action: 'pause' | 'resume', description: string): CliCommand {
  const usage = `usage: gworker ${action} [--json] FUNCTION [-c FILE | --control ADDR] [--token TOKEN]

${description}

options:
      --json          print the function's state afterwards as JSON
${controlHelp}

Exit status: 0 on success; 1 when the function is unknown, the supervisor is draining or
cannot be reached; 2 on a usage error.
`;
  return async (argv, io) => {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...controlOptions, json: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (values.help) {
      io.stdout.write(usage);
      return 0;
    }
    const [fn] = positionals;
    if (positionals.length !== 1 || fn === undefined)
      throw new UsageError(`${action} takes one function name`);
    const client = new ControlClient(await resolveControlTarget(values, io), {
      timeoutMs: parseTimeout(values.timeout),
    });
    const state = await client.post<FunctionReport>(`/api/functions/${encodeURIComponent(fn)}/${action}`);
    if (values.json) io.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    else if (state.paused)
      io.stdout.write(`${state.name}: paused; ${state.running} job(s) still running will finish\n`);
    else io.stdout.write(`${state.name}: taking jobs (concurrency ${state.concurrency})\n`);
    return 0;
  };
}
