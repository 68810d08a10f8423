import type { FunctionReport } from '../../supervisor/control/status-document.js';
import { defineCommand } from '../args/define-command.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';
import type { CliCommand } from '../io.js';

/** `gworker pause` and `gworker resume` differ only in the word: one implementation. */
export function pauseResumeCommand(action: 'pause' | 'resume', description: string): CliCommand {
  return defineCommand({
    name: action,
    synopsis: `[--json] FUNCTION ${kControlSynopsis}`,
    description,
    options: {
      json: { type: 'boolean', help: "print the function's state afterwards as JSON" },
      ...controlOptions(10_000),
    },
    arguments: { min: 1, shape: 'one function name' },
    footer: `Exit status: 0 on success; 1 when the function is unknown, the supervisor is draining or
cannot be reached; 2 on a usage error.`,
    async run({ values, positionals }, io) {
      const fn = positionals[0] as string;
      const client = new ControlClient(await resolveControlTarget(values, io), { timeoutMs: values.timeout });
      const state = await client.post<FunctionReport>(`/api/functions/${encodeURIComponent(fn)}/${action}`);
      if (values.json) io.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
      else if (state.paused)
        io.stdout.write(`${state.name}: paused; ${state.running} job(s) still running will finish\n`);
      else io.stdout.write(`${state.name}: taking jobs (concurrency ${state.concurrency})\n`);
      return 0;
    },
  });
}
