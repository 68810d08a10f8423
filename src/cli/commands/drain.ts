import { setTimeout as sleep } from 'node:timers/promises';
import type { DrainReply } from '../../supervisor/control/control-api.js';
import { ControlError } from '../../supervisor/control/control-error.js';
import type { StatusDocument } from '../../supervisor/control/status-document.js';
import { formatDuration } from '../../supervisor/manifest/units.js';
import { defineCommand } from '../args/define-command.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';

/** How often to look whether the supervisor is gone: its control API closes last. */
const kPollMs = 200;

export const drainCommand = defineCommand({
  name: 'drain',
  synopsis: `[--no-wait] [--wait-timeout DURATION] ${kControlSynopsis}`,
  description: `Stops the running supervisor gracefully, as SIGTERM does: it takes no new jobs, lets
running ones finish (up to the manifest's shutdownTimeout; the job servers requeue what
is cut off), closes its connections and exits. Waits until it has stopped.`,
  options: {
    'no-wait': { type: 'boolean', help: 'return once the drain has begun' },
    'wait-timeout': {
      type: 'duration',
      help: 'stop waiting after this long (default shutdownTimeout + 15s)',
    },
    ...controlOptions(10_000),
  },
  footer: `Exit status: 0 once the supervisor has stopped (or began draining, with --no-wait); 1
when it cannot be reached, refuses, or is still running after the wait; 2 on a usage error.`,
  async run({ values }, io) {
    const target = await resolveControlTarget(values, io);
    const client = new ControlClient(target, { timeoutMs: values.timeout });
    const reply = await client.post<DrainReply>('/api/drain');
    const seconds = Math.round(reply.shutdownTimeoutMs / 100) / 10;
    io.stdout.write(`draining: no new jobs; running jobs get up to ${seconds}s to finish\n`);
    if (values['no-wait']) return 0;
    const waitMs = values['wait-timeout'] ?? reply.shutdownTimeoutMs + 15_000;
    const deadline = Date.now() + waitMs;
    const probe = new ControlClient(target, { timeoutMs: 2000 });
    let lastRunning = -1;
    while (Date.now() < deadline) {
      try {
        const status = await probe.get<StatusDocument>('/api/status?queues=0');
        const running = status.functions.reduce((sum, fn) => sum + fn.running, 0);
        if (running > 0 && running !== lastRunning)
          io.stderr.write(`waiting for ${running} running job(s)\n`);
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
    io.stderr.write(`still running after ${formatDuration(waitMs)}\n`);
    return 1;
  },
});
