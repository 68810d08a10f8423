import type { ReloadReply } from '../../supervisor/control/control-api.js';
import { ControlError } from '../../supervisor/control/control-error.js';
import { defineCommand } from '../args/define-command.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';

export const reloadCommand = defineCommand({
  name: 'reload',
  synopsis: `[--json] ${kControlSynopsis}`,
  description: `Makes the running supervisor re-read its manifest and apply it (as SIGHUP does), then
reload the code of every handler function the change did not reload already: new
threads load the code, new jobs go to them, running jobs finish on the old ones. Code
that fails to load is rejected and the old code keeps serving. A manual concurrency
(\`gworker scale FUNCTION N\`) survives the reload unless the manifest's concurrency for
that function changed; the answer names both cases.`,
  options: {
    json: { type: 'boolean', help: 'print the outcome as JSON' },
    ...controlOptions(120_000),
  },
  footer: `Exit status: 0 when everything reloaded; 1 when the manifest or some function's code was
rejected (the old one keeps serving), or the supervisor cannot be reached; 2 on a usage
error.`,
  async run({ values }, io) {
    const client = new ControlClient(await resolveControlTarget(values, io), { timeoutMs: values.timeout });
    const reply = await client.request('POST', '/api/reload', {});
    // 422 carries the same reply with what was rejected; anything else is a refusal.
    if (reply.status !== 200 && reply.status !== 422) {
      const error = (reply.body as { error?: { code?: string; message?: string } })?.error;
      throw new ControlError(
        reply.status,
        error?.code ?? 'http_error',
        error?.message ?? `HTTP ${reply.status}`,
      );
    }
    const outcome = reply.body as ReloadReply;
    if (values.json) {
      io.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
      return outcome.ok ? 0 : 1;
    }
    if (outcome.manifest?.ok === false) {
      io.stderr.write(`manifest rejected; the running configuration stays:\n${outcome.manifest.error}\n`);
    } else if (outcome.manifest?.ok) {
      io.stdout.write('manifest applied\n');
    }
    for (const event of outcome.functions) {
      if (event.ok) io.stdout.write(`${event.function}: reloaded, generation ${event.generation}\n`);
      else
        io.stderr.write(
          `${event.function}: rejected, generation ${event.generation} keeps serving: ${event.error}\n`,
        );
    }
    if (outcome.ok && outcome.functions.length === 0) io.stdout.write('no handler code to reload\n');
    for (const change of outcome.scales ?? []) {
      io.stdout.write(`${change.function}: concurrency ${change.from} -> ${change.to} (${change.why})\n`);
    }
    for (const held of outcome.manual ?? []) {
      io.stdout.write(
        `${held.function}: manual concurrency ${held.concurrency} kept (gworker scale ${held.function} --auto ends it)\n`,
      );
    }
    return outcome.ok ? 0 : 1;
  },
});
