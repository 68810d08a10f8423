import { afterEach, describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/commands/status.js';
import type { StatusDocument } from '../../src/supervisor/control/status-document.js';
import { runCliCaptured as cli } from '../helpers/run-cli.js';
import { type Controlled, startControlled } from '../supervisor/control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** A live snapshot of a supervisor with two functions, one with a long name, after a few jobs. */
async function snapshot(): Promise<StatusDocument> {
  setup = await startControlled(
    '  echo: { handler: $FIXTURES/echo.js, payload: text, concurrency: 2 }\n  resize-thumbnails-webp: { handler: $FIXTURES/echo.js, payload: text }\n',
  );
  for (let i = 0; i < 3; i++) await setup.client.run('echo', 'x');
  const port = (setup.control.address as { port: number }).port;
  const run = await cli(['status', '--json', '--control', String(port)]);
  const status = JSON.parse(run.stdout) as StatusDocument;
  // A job server's error as long as they come, to see it cut rather than wrap.
  const row = status.servers[0]?.functions[0] as { lastError: string | null };
  row.lastError = 'connect ECONNREFUSED 10.20.30.40:4730 (reconnecting with backoff, next try in 8s)';
  return status;
}

const headers = (text: string, first: string) =>
  (text.split('\n').find((line) => line.startsWith(first)) ?? '').trim().split(/\s{2,}/);

describe('gworker status and top on a terminal', () => {
  it('keep to 80 columns with the columns an operator watches, and show them all at 160', async () => {
    const status = await snapshot();
    const narrow = renderStatus(status, { width: 80 });
    for (const line of narrow.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(headers(narrow, 'FUNCTION')).toEqual([
      'FUNCTION',
      'STATE',
      'BUSY',
      'QUEUED',
      'DONE',
      'FAIL/EXC',
      'JOBS/S',
      'P95',
    ]);
    expect(headers(narrow, 'SERVER')).toEqual([
      'SERVER',
      'FUNCTION',
      'STATE',
      'QUEUED',
      'WORKERS',
      'LAST ERROR',
    ]);
    expect(narrow).toMatch(/^echo +active +0\/2 +0 +3 +0\/0 +[\d.]+ +[\d.]+m?s$/m);
    expect(narrow).toMatch(/^resize-thumbnails-webp +active +0\/1 +0 +0 +0\/0 +0\.00 +- *$/m);
    // A long last error is cut at the edge, marked with an ellipsis.
    expect(narrow).toMatch(/ {2}connect EC[^\n]*…$/m);

    const wide = renderStatus(status, { width: 160 });
    for (const line of wide.split('\n')) expect(line.length, line).toBeLessThanOrEqual(160);
    expect(headers(wide, 'FUNCTION')).toEqual(headers(renderStatus(status), 'FUNCTION'));
    expect(headers(wide, 'FUNCTION')).toContain('THREADS');
    expect(headers(wide, 'FUNCTION')).toContain('P99');
    expect(headers(wide, 'SERVER')).toContain('RECONNECTS');
    expect(wide).toContain('connect ECONNREFUSED 10.20.30.40:4730 (reconnecting');
    // Without a terminal (a pipe, a file) nothing is cut.
    expect(renderStatus(status)).toContain('(reconnecting with backoff, next try in 8s)');
  });

  it('top draws within the terminal it runs on', async () => {
    await snapshot();
    const port = ((setup as Controlled).control.address as { port: number }).port;
    const run = await cli(['top', '-n', '1', '--control', String(port)], { stdoutTty: { columns: 80 } });
    expect(run.code).toBe(0);
    const text = run.stdout.replace(/\x1b\[[?\d;]*[a-zA-Z]/g, '');
    expect(text).toContain('resize-thumbnails-webp');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});
