import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { DrainReply } from '../../supervisor/control/control-api.js';
import { ControlError } from '../../supervisor/control/control-error.js';
import type { StatusDocument } from '../../supervisor/control/status-document.js';
import {
  ControlClient,
  controlHelp,
  controlOptions,
  parseTimeout,
  resolveControlTarget,
} from '../control-client.js';
import type { CliCommand } from '../io.js';
import { UsageError } from '../io.js';

const kUsage = `usage: gworker drain [--no-wait] [--wait-timeout MS] [-c FILE | --control ADDR] [--token TOKEN]

Stops the running supervisor gracefully, as SIGTERM does: it takes no new jobs, lets
running ones finish (up to the manifest's shutdownTimeout; the job servers requeue what
is cut off), closes its connections and exits. Waits until it has stopped.

options:
      --no-wait          return once the drain has begun
      --wait-timeout MS  stop waiting after this long (default shutdownTimeout + 15 s)
${controlHelp}

Exit status: 0 once the supervisor has stopped (or began draining, with --no-wait); 1
when it cannot be reached, refuses, or is still running after the wait; 2 on a usage error.
`;

/** How often to look whether the supervisor is gone: its control API closes last. */
const kPollMs = 200;

export const drainCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...controlOptions, 'no-wait': { type: 'boolean' }, 'wait-timeout': { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('drain takes no arguments');
  const target = await resolveControlTarget(values, io);
  const client = new ControlClient(target, { timeoutMs: parseTimeout(values.timeout) });
  const reply = await client.post<DrainReply>('/api/drain');
  const seconds = Math.round(reply.shutdownTimeoutMs / 100) / 10;
  io.stdout.write(`draining: no new jobs; running jobs get up to ${seconds}s to finish\n`);
  if (values['no-wait']) return 0;
  const waitMs = parseTimeout(values['wait-timeout'], reply.shutdownTimeoutMs + 15_000);
  const deadline = Date.now() + waitMs;
  const probe = new ControlClient(target, { timeoutMs: 2000 });
  let lastRunning = -1;
  while (Date.now() < deadline) {
    try {
      const status = await probe.get<StatusDocument>('/api/status?queues=0');
      const running = status.functions.reduce((sum, fn) => sum + fn.running, 0);
      if (running > 0 && running !== lastRunning) io.stderr.write(`waiting for ${running} running job(s)\n`);
      lastRunning = running;
    } catch (err) {
      if (err instanceof ControlError && err.reason === 'unreachable') {
        io.stdout.write('stopped\n');
        return 0;
      }
      throw err;
    }
    await sleep(kPollMs);
  }
  io.stderr.write(`still running after ${waitMs} ms\n`);
  return 1;
};
