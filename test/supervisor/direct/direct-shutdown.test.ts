import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { GearmanServer } from '../../../src/server/server.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { spawnGworker } from '../../helpers/gworker-process.js';
import { killAll } from '../../helpers/peers.js';
import { type LogEntry, linesWith, recordingLogger } from '../../helpers/recording-logger.js';

const kServes = `
export default async function (text) {
  if (text.startsWith('sleep')) await new Promise((r) => setTimeout(r, Number(text.slice(5))));
  return 'v1:' + text;
}
`;
/** Top levels that never finish: a busy loop, and a wait that the event loop keeps alive. */
const kHangs = {
  loops: 'for (;;) {}\nexport default () => "never";\n',
  waits: 'await new Promise(() => setInterval(() => {}, 1000));\nexport default () => "never";\n',
};
const kShutdownMs = 1000;
/** The threads get 500 ms past the deadline to end on their own; then terminate() and the rest. */
const kMarginMs = 1500;

let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stop?.();
  stop = undefined;
  await killAll();
});

async function start(dir: string, lines: LogEntry[]) {
  const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  const file = path.join(dir, 'gworker.yaml');
  const text = `servers: ["127.0.0.1:${port}"]\nshutdownTimeout: ${kShutdownMs}ms\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, concurrency: 2 }\n`;
  writeFileSync(file, text);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), {
    regrabIntervalMs: 300,
    logger: recordingLogger(lines),
  });
  await supervisor.start();
  const client = new Client({ servers: [`127.0.0.1:${port}`] });
  stop = async () => {
    await client.close();
    await supervisor.close({ force: true });
    await server.close();
  };
  return { supervisor, client };
}

describe('dispatch: thread shutdown with a reload that never finishes loading', () => {
  for (const [kind, hang] of Object.entries(kHangs)) {
    it(`stop completes within shutdownTimeout and a margin, and names the function (top level ${kind})`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-stop-'));
      writeFileSync(path.join(dir, 'up.mjs'), kServes);
      const lines: LogEntry[] = [];
      const { supervisor, client } = await start(dir, lines);
      const job = client.run('up', 'sleep400');
      await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(1);
      writeFileSync(path.join(dir, 'up.mjs'), hang);
      let reloaded = false;
      const reload = supervisor.reloadHandlers(['up']).then(() => {
        reloaded = true;
      });
      // Long enough for the new threads to be inside the handler's top level.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reloaded).toBe(false);
      const began = performance.now();
      await supervisor.close();
      expect(performance.now() - began).toBeLessThan(kShutdownMs + kMarginMs);
      // The old code's job finished; the reload settled, never having served.
      expect(String(await job)).toBe('v1:sleep400');
      await reload;
      expect(supervisor.functions()[0]?.generation).toBe(1);
      expect(linesWith(lines, 'up: 2 handler thread(s) still loading')).toHaveLength(1);
      // Not a rejected reload: the stop ended it.
      expect(linesWith(lines, 'reload rejected')).toHaveLength(0);
    });
  }

  it('counts the jobs still running at the deadline as cut short (the job server requeues them)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-stop-'));
    writeFileSync(path.join(dir, 'up.mjs'), kServes);
    const lines: LogEntry[] = [];
    const { supervisor, client } = await start(dir, lines);
    const finished = client.run('up', 'sleep200');
    void client.run('up', 'sleep5000').catch(() => {});
    await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(2);
    const began = performance.now();
    await expect(supervisor.close()).resolves.toEqual({ jobsCutShort: 1 });
    expect(performance.now() - began).toBeLessThan(kShutdownMs + kMarginMs);
    expect(String(await finished)).toBe('v1:sleep200');
  });

  it('gworker start exits on SIGTERM within shutdownTimeout and a margin, with the log line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-stop-cli-'));
    writeFileSync(path.join(dir, 'up.mjs'), kServes);
    const manifest = path.join(dir, 'gworker.yaml');
    // The embedded server on a port of its own, no control API: nothing collides.
    writeFileSync(
      manifest,
      `embeddedServer: 0\ncontrol: false\nshutdownTimeout: ${kShutdownMs}ms\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, concurrency: 2 }\n`,
    );
    const proc = spawnGworker(['start', manifest]);
    await proc.waitForLog((l) => l.msg.startsWith('gworker started'));
    writeFileSync(path.join(dir, 'up.mjs'), kHangs.loops);
    await proc.waitForLog((l) => l.msg === 'handler code changed; reloading');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = performance.now();
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(performance.now() - sent).toBeLessThan(kShutdownMs + kMarginMs);
    expect(code).toBe(0);
    expect(proc.logs.some((l) => l.msg.startsWith('up: 2 handler thread(s) still loading'))).toBe(true);
  });
});
