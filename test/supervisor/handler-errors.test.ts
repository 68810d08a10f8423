import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { GearmanServer } from '../../src/server/server.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type RunOutcome } from '../../src/supervisor/pool/handler-pool.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { locateLoadFailure } from '../../src/supervisor/thread/load-location.js';
import { runJob } from '../helpers/pool-run.js';
import { type LogEntry, recordingLogger } from '../helpers/recording-logger.js';

// What a user reads when a handler throws (issue 11, "The handler loop"): the type,
// a message that says what was thrown, the handler's own stack; errors after a job
// ended are reported as such; a module that fails to load names FILE:LINE:COLUMN.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function poolFor(file: string, logger?: Logger): HandlerPool {
  const config: ModuleFunctionConfig = {
    name: path.basename(file, path.extname(file)),
    kind: 'module',
    handler: path.resolve(fixtures, file),
    export: 'default',
    concurrency: 1,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
  };
  const pool = new HandlerPool(config, 1, logger);
  pools.push(pool);
  return pool;
}

/**
 * Broken modules are written at run time, in a folder of their own with its own
 * package.json: in test/fixtures they would break the project's lint and typecheck.
 */
function brokenModule(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-broken-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
}

// Mid-file, where V8's import() error gives no position at all.
const kBrokenJs =
  'const greeting = "hi";\n\nexport default function broken(payload) {\n  return greeting + ) payload;\n}\n';
const kBrokenTs =
  'const port = 4730;\n\nexport default function broken(payload: string {\n  return payload;\n}\n';

const sink = { status() {}, data() {}, warning() {} };
let nextHandle = 1;
function run(pool: HandlerPool, payload: string): Promise<RunOutcome> {
  const meta = { handle: `H:test:${nextHandle++}`, unique: '', functionName: 'f' };
  return runJob(pool, meta, Buffer.from(payload), sink);
}

async function errorOf(pool: HandlerPool, payload: string) {
  const outcome = await run(pool, payload);
  if (outcome.ok) throw new Error(`expected ${payload} to fail`);
  expect(outcome.reason).toBe('handler');
  return outcome.error;
}

describe('a thrown error says what was thrown', () => {
  it('names the type and gives a message for throws that carry none', async () => {
    const pool = poolFor('throws-odd.js');
    expect(await errorOf(pool, 'string')).toEqual({ name: 'string', message: 'plain words' });
    expect(await errorOf(pool, 'undefined')).toEqual({
      name: 'undefined',
      message: 'a handler threw undefined',
    });
    expect(await errorOf(pool, 'object')).toEqual({
      name: 'Object',
      message: 'a handler threw a non-Error Object: {"code":"E_BAD","detail":42}',
    });
    expect(await errorOf(pool, 'empty')).toMatchObject({
      name: 'Error',
      message: 'Error thrown with no message',
    });
    expect(await errorOf(pool, 'subclass')).toMatchObject({
      name: 'QuietError',
      message: 'QuietError thrown with no message',
    });
  });

  it("keeps the handler's stack and leaves out gworker's frames", async () => {
    const pool = poolFor('throws-odd.js');
    const error = await errorOf(pool, 'null-property');
    expect(error.name).toBe('TypeError');
    const stack = error.stack ?? '';
    expect(stack).toMatch(/^TypeError: Cannot read properties of null/);
    expect(stack).toContain('throws-odd.js:');
    expect(stack).not.toMatch(/job-stream|tsx-namespace|node:internal/);
  });
});

describe('errors after a job ended', () => {
  it('logs a timer that throws after its job answered, with the function name, and the thread serves on', async () => {
    const lines: LogEntry[] = [];
    const pool = poolFor('stray.js', recordingLogger(lines));
    const first = await run(pool, 'timer');
    expect(first.ok).toBe(true);
    await expect.poll(() => lines.length, { timeout: 5000 }).toBeGreaterThan(0);
    const [line] = lines;
    expect(line?.level).toBe('warn');
    expect(line?.msg).toMatch(/^stray: handler threw after its job had ended .*: RangeError: late timer$/);
    expect(line?.obj).toMatchObject({
      function: 'stray',
      err: { type: 'RangeError', message: 'late timer' },
    });
    // Same thread: it was not ended by the error.
    const second = await run(pool, 'again');
    expect(second.ok && Buffer.from(second.result).toString()).toBe(
      first.ok ? Buffer.from(first.result).toString() : '',
    );
  });

  it('logs an unhandled rejection the same way', async () => {
    const lines: LogEntry[] = [];
    const pool = poolFor('stray.js', recordingLogger(lines));
    await run(pool, 'rejection');
    await expect.poll(() => lines.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(lines[0]?.msg).toMatch(/: Error: nobody awaited this$/);
    expect((await run(pool, 'again')).ok).toBe(true);
  });

  it('fails a job that is still running when an error escapes its callbacks, instead of leaving it hanging', async () => {
    const lines: LogEntry[] = [];
    const pool = poolFor('stray.js', recordingLogger(lines));
    const outcome = await run(pool, 'hang');
    expect(outcome).toMatchObject({ ok: false, error: { message: 'thrown from its own callback' } });
    expect(lines[0]?.msg).toMatch(/while 1 job\(s\) ran in the thread; they failed with it/);
  });
});

describe('a handler that cannot load names where', () => {
  it.each([
    [brokenModule('late.js', kBrokenJs), /late\.js:4:21: SyntaxError: Unexpected token '\)'$/],
    [brokenModule('broken.ts', kBrokenTs), /broken\.ts:3:47: SyntaxError: Expected "\)" but found "\{"$/],
    ['throws-at-import.js', /throws-at-import\.js:1:7: cannot start: missing configuration$/],
    ['no-default.js', /no-default\.js: TypeError: no function export "default" \(it exports: something\)$/],
  ])('%s', async (file, message) => {
    const pool = poolFor(file);
    await expect(pool.check()).rejects.toMatchObject({
      code: ErrorCode.HANDLER_LOAD,
      message: expect.stringMatching(message),
    });
  });
});

describe('locateLoadFailure', () => {
  it("finds the line and column of V8's position-less SyntaxError (an installed package's .js import)", () => {
    const file = brokenModule('late.js', kBrokenJs);
    expect(locateLoadFailure(new SyntaxError("Unexpected token ')'"), file)).toMatchObject({
      name: 'SyntaxError',
      at: `${file}:4:21`,
      message: "Unexpected token ')'",
    });
  });
});

describe("the supervisor's log line for a failed job", () => {
  it('carries the thrown type, message and stack', async () => {
    const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const lines: LogEntry[] = [];
    const file = path.join(fixtures, 'gworker.yaml');
    const manifest = parseManifest(
      `servers: ["127.0.0.1:${port}"]\nconnections: 1\nfunctions:\n  odd: { handler: ./throws-odd.js, payload: text }\n`,
      file,
      { env: {} },
    );
    const supervisor = new Supervisor(manifest, { logger: recordingLogger(lines) });
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    try {
      await supervisor.start();
      await expect(client.run('odd', 'null-property')).rejects.toThrow(/Cannot read properties of null/);
      const failed = () => lines.find((l) => l.msg?.includes('did not complete') === true);
      await expect.poll(failed, { timeout: 5000 }).toBeDefined();
      const line = failed() as LogEntry;
      expect(line.msg).toMatch(
        /^odd: job H:\S+ did not complete \(exception\): TypeError: Cannot read properties of null \(reading 'missing'\)$/,
      );
      expect((line.obj as { err: unknown }).err).toMatchObject({
        type: 'TypeError',
        message: "Cannot read properties of null (reading 'missing')",
        stack: expect.stringContaining('throws-odd.js:'),
      });
    } finally {
      await client.close();
      await supervisor.close({ force: true });
      await server.close();
    }
  });
});
