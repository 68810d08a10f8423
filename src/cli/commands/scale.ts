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

const kUsage = `usage: gworker scale [--json] FUNCTION N [-c FILE | --control ADDR] [--token TOKEN]

Sets how many jobs of FUNCTION may run at once on the running supervisor. The slots
change at once; a new generation of N handler threads takes over, and running jobs
finish on the old one. Lasts until the supervisor restarts or its manifest is reloaded
with another concurrency: change the manifest to keep it.

options:
      --json          print the function's state afterwards as JSON
${controlHelp}

Exit status: 0 when the new concurrency serves; 1 when the function is unknown, its new
threads cannot start, or the supervisor cannot be reached; 2 on a usage error.
`;

export const scaleCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...controlOptions, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  const [fn, count] = positionals;
  if (positionals.length !== 2 || fn === undefined || count === undefined) {
    throw new UsageError('scale takes a function name and a concurrency');
  }
  const concurrency = Number(count);
  if (!/^\d+$/.test(count) || concurrency < 1 || concurrency > 100_000) {
    throw new UsageError(`concurrency must be a whole number from 1 to 100000, got "${count}"`);
  }
  const client = new ControlClient(await resolveControlTarget(values, io), {
    timeoutMs: parseTimeout(values.timeout, 60_000),
  });
  const state = await client.post<FunctionReport>(`/api/functions/${encodeURIComponent(fn)}/scale`, {
    concurrency,
  });
  io.stdout.write(
    values.json
      ? `${JSON.stringify(state, null, 2)}\n`
      : `${state.name}: concurrency ${state.concurrency}, ${state.threads} thread(s), generation ${state.generation}\n`,
  );
  return 0;
};
