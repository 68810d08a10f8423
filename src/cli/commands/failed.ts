import type { FailureList, RetryReply } from '../../supervisor/control/failure-control.js';
import type { FailureRecord } from '../../supervisor/retry/failure-store.js';
import { defineCommand } from '../args/define-command.js';
import { integerValue, OptionValueError } from '../args/option-values.js';
import { ControlClient, controlOptions, kControlSynopsis, resolveControlTarget } from '../control-client.js';
import { UsageError } from '../io.js';
import { oneLine } from '../submit-common.js';
import { formatTable } from '../table.js';

/** Longest reason shown in a list line; `show` prints it whole. */
const kReasonWidth = 60;

/**
 * `gworker failed`: the failure records of a running supervisor (its manifest's
 * `failures.store`), through its control API.
 */
export const failedCommand = defineCommand({
  name: 'failed',
  synopsis: [
    `list [-f FUNCTION] [--limit N] [--json] ${kControlSynopsis}`,
    `show ID [--json] ${kControlSynopsis}`,
    `retry ID... | retry --all -f FUNCTION ${kControlSynopsis}`,
    `purge [-f FUNCTION] ${kControlSynopsis}`,
  ],
  description: `The jobs that failed for good on a running supervisor, kept in its failures.store (see
docs/retries.md). list: the newest first. show: one record with its payload and every
attempt's error and stack. retry: submits the records' jobs again as background jobs
(payload and unique as first submitted, a fresh first attempt) and removes them; one
that fails again is recorded again. purge: deletes the records.`,
  options: {
    function: { type: 'string', short: 'f', value: 'NAME', help: 'only the records of this function' },
    limit: { type: 'integer', min: 1, max: 10_000, default: 20, help: 'most records to list' },
    all: { type: 'boolean', help: 'retry every record of --function' },
    json: { type: 'boolean', help: 'print the reply as JSON' },
    ...controlOptions(30_000),
  },
  arguments: { min: 1, max: 10_000, shape: 'list, show ID, retry ID... or purge' },
  footer: `Exit status: 0 when done; 1 when a record is not found, a retry could not be submitted,
the supervisor keeps no records or cannot be reached; 2 on a usage error.`,
  async run({ values, positionals }, io) {
    const [action, ...rest] = positionals as [string, ...string[]];
    const check = plan(action, rest, values.all, values.function);
    const client = new ControlClient(await resolveControlTarget(values, io), { timeoutMs: values.timeout });
    const print = (json: unknown, text: string) =>
      io.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : text);
    if (action === 'list') {
      const query = new URLSearchParams({ limit: String(values.limit) });
      if (values.function !== undefined) query.set('function', values.function);
      const list = await client.get<FailureList>(`/api/failures?${query}`);
      print(list, listText(list));
      return 0;
    }
    if (action === 'show') {
      const record = await client.get<FailureRecord>(`/api/failures/${check.ids[0]}`);
      print(record, showText(record));
      return 0;
    }
    if (action === 'retry') {
      const body = values.all ? { function: values.function } : { ids: check.ids };
      const reply = await client.post<RetryReply>('/api/failures/retry', body);
      print(reply, retryText(reply));
      return reply.notFound.length > 0 || reply.failed.length > 0 ? 1 : 0;
    }
    const reply = await client.post<{ purged: number }>(
      '/api/failures/purge',
      values.function === undefined ? {} : { function: values.function },
    );
    print(reply, `purged ${reply.purged} record(s)\n`);
    return 0;
  },
});

/** Checks the action and its arguments before anything connects. */
function plan(
  action: string,
  rest: readonly string[],
  all: boolean,
  fn: string | undefined,
): { ids: number[] } {
  const ids = (): number[] =>
    rest.map((text) => {
      try {
        return integerValue(text, 1, Number.MAX_SAFE_INTEGER);
      } catch (err) {
        if (err instanceof OptionValueError) throw new UsageError(`record id: ${err.message}`);
        throw err;
      }
    });
  switch (action) {
    case 'list':
    case 'purge':
      if (rest.length > 0) throw new UsageError(`${action} takes no arguments`);
      if (all) throw new UsageError('--all goes with retry');
      return { ids: [] };
    case 'show':
      if (rest.length !== 1) throw new UsageError('show takes one record ID');
      return { ids: ids() };
    case 'retry':
      if (all) {
        if (fn === undefined) throw new UsageError('retry --all needs -f FUNCTION');
        if (rest.length > 0) throw new UsageError('retry --all takes no record IDs');
        return { ids: [] };
      }
      if (rest.length === 0) throw new UsageError('retry takes record IDs, or --all -f FUNCTION');
      return { ids: ids() };
    default:
      throw new UsageError(`unknown action "${action}": expected list, show, retry or purge`);
  }
}

function listText(list: FailureList): string {
  if (list.failures.length === 0) return 'no failure records\n';
  const table = formatTable(
    [
      { header: 'ID', align: 'right' },
      { header: 'FUNCTION' },
      { header: 'UNIQUE' },
      { header: 'ATTEMPTS', align: 'right' },
      { header: 'FAILED AT' },
      { header: 'REASON' },
    ],
    list.failures.map((f) => [
      String(f.id),
      f.function,
      f.unique,
      String(f.attempts),
      f.failedAt,
      cut(oneLine(f.reason)),
    ]),
  );
  const more =
    list.total > list.failures.length
      ? `(${list.failures.length} of ${list.total}; --limit shows more)\n`
      : '';
  return `${table}${more}`;
}

function showText(record: FailureRecord): string {
  const lines = [
    `id:        ${record.id}`,
    `function:  ${record.function}`,
    `unique:    ${record.unique}`,
    `handle:    ${record.handle} on ${record.server}`,
    `box:       ${record.box}`,
    `attempts:  ${record.attempts}`,
    `failed at: ${record.failedAt}`,
    `reason:    ${oneLine(record.reason)}`,
    `payload (${record.payloadEncoding}): ${record.payload}`,
  ];
  for (const error of record.errors) {
    lines.push(
      '',
      `attempt ${error.attempt} (${error.cause}) at ${error.at} on ${error.box}: ${error.name}: ${error.message}`,
    );
    if (error.stack !== undefined) lines.push(error.stack);
  }
  return `${lines.join('\n')}\n`;
}

function retryText(reply: RetryReply): string {
  const lines = reply.retried.map((r) => `${r.id}: ${r.function} submitted again as ${r.handle}`);
  for (const id of reply.notFound) lines.push(`${id}: no such record`);
  for (const f of reply.failed) lines.push(`${f.id}: not submitted: ${oneLine(f.error)}`);
  return lines.length === 0 ? 'no records to retry\n' : `${lines.join('\n')}\n`;
}

function cut(text: string): string {
  return text.length > kReasonWidth ? `${text.slice(0, kReasonWidth - 1)}…` : text;
}
