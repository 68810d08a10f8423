import { MAX_CONCURRENCY, MIN_CONCURRENCY } from '../../limits.js';
import type { FunctionReport } from '../../supervisor/control/status-document.js';
import { defineCommand } from '../args/define-command.js';
import { integerValue, OptionValueError } from '../args/option-values.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';
import { UsageError } from '../io.js';
import { describeScaling } from './scaling-text.js';

export const scaleCommand = defineCommand({
  name: 'scale',
  synopsis: [`[--json] FUNCTION N ${kControlSynopsis}`, `[--json] FUNCTION --auto ${kControlSynopsis}`],
  description: `Sets how many jobs of FUNCTION may run at once on the running supervisor. The slots
and the most handler threads change at once, in place (no new generation, no code
loaded): threads start as jobs need them, and past the new most they end once their
jobs are done. N is a manual value: the autoscaler leaves the function alone, and a
reload keeps it, until \`gworker scale FUNCTION --auto\`, a manifest change of that
function's concurrency, or a restart. --auto ends it: a \`concurrency: { min, max }\`
function goes back to the autoscaler, a fixed one to the manifest's concurrency.`,
  options: {
    auto: { type: 'boolean', help: 'end a manual value: back to the autoscaler or the manifest' },
    json: { type: 'boolean', help: "print the function's state afterwards as JSON" },
    ...controlOptions(60_000),
  },
  arguments: { min: 1, max: 2, shape: 'a function name and a concurrency, or a function name and --auto' },
  footer: `Exit status: 0 when the new concurrency serves; 1 when the function is unknown, its new
threads cannot start, or the supervisor cannot be reached; 2 on a usage error.`,
  async run({ values, positionals }, io) {
    const [fn, count] = positionals as [string, string | undefined];
    if (values.auto === (count !== undefined))
      throw new UsageError('scale takes a function name and either a concurrency or --auto');
    let body: { concurrency: number } | { auto: true } = { auto: true };
    if (count !== undefined) {
      try {
        body = { concurrency: integerValue(count, MIN_CONCURRENCY, MAX_CONCURRENCY) };
      } catch (err) {
        if (!(err instanceof OptionValueError)) throw err;
        throw new UsageError(`concurrency: ${err.message}`);
      }
    }
    const client = new ControlClient(await resolveControlTarget(values, io), { timeoutMs: values.timeout });
    const state = await client.post<FunctionReport>(`/api/functions/${encodeURIComponent(fn)}/scale`, body);
    io.stdout.write(
      values.json
        ? `${JSON.stringify(state, null, 2)}\n`
        : `${state.name}: concurrency ${state.concurrency} (${describeScaling(state)}), ${state.threads} thread(s), generation ${state.generation}\n`,
    );
    return 0;
  },
});
