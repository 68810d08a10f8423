import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnGworker } from '../helpers/gworker-process.js';
import { freePort, killAll } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';

afterEach(async () => {
  await killAll();
});

/** A project folder with a one-function manifest whose control API listens on `control`. */
function project(control: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-two-'));
  writeFileSync(path.join(dir, 'echo.js'), 'export default (s) => s;\n');
  const file = path.join(dir, 'gworker.yaml');
  writeFileSync(
    file,
    `embeddedServer: 0\ncontrol: ${control}\nshutdownTimeout: 2s\nfunctions:\n  echo: { handler: ./echo.js, payload: text }\n`,
  );
  return file;
}

describe('two supervisors on one box', () => {
  it('each control command given -c reaches the supervisor of that manifest, found through its run file for a picked port', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'gworker-run-'));
    const env = { GWORKER_RUN_DIR: runDir };
    const port = await freePort();
    const first = project(`127.0.0.1:${port}`);
    const second = project('0');
    const a = spawnGworker(['start', '--no-watch', first], env);
    await a.waitForLog((l) => l.msg.startsWith('gworker started'));
    const b = spawnGworker(['start', '--no-watch', second], env);
    await b.waitForLog((l) => l.msg.startsWith('gworker started'));
    expect(readdirSync(runDir)).toHaveLength(1);

    const statusOf = async (file: string) => {
      const run = await runCliCaptured(['status', '--json', '--no-queues', '-c', file], { env });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout) as { pid: number; manifest: string };
    };
    expect(await statusOf(first)).toMatchObject({ pid: a.child.pid, manifest: first });
    expect(await statusOf(second)).toMatchObject({ pid: b.child.pid, manifest: second });

    // The manifest and the address disagree: refused before anything is sent.
    const wrong = await runCliCaptured(['drain', '-c', second, '--control', String(port)], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      `gworker drain: the supervisor on 127.0.0.1:${port} (pid ${a.child.pid}) runs ${first}, not ${second}: refused; pass -c with its manifest, or --control with the address of the one you mean\n`,
    );
    expect((await statusOf(first)).pid).toBe(a.child.pid);

    expect(await runCliCaptured(['drain', '-c', second], { env })).toMatchObject({ code: 0 });
    expect(await b.exited).toBe(0);
    expect(readdirSync(runDir)).toEqual([]);
    expect(await runCliCaptured(['status', '-c', second], { env })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`no running supervisor of ${second}`),
    });
    expect(a.child.exitCode).toBeNull();
    expect(await runCliCaptured(['drain', '-c', first], { env })).toMatchObject({ code: 0 });
    expect(await a.exited).toBe(0);
  }, 60_000);

  it('a second supervisor whose control port is taken does not start', async () => {
    const port = await freePort();
    const first = project(`127.0.0.1:${port}`);
    const a = spawnGworker(['start', '--no-watch', first]);
    await a.waitForLog((l) => l.msg.startsWith('gworker started'));
    const b = spawnGworker(['start', '--no-watch', project(`127.0.0.1:${port}`)]);
    expect(await b.exited).toBe(1);
    const error = b.logs.find((l) => l.level >= 50);
    expect(error?.msg).toBe(
      `control API cannot listen on 127.0.0.1:${port}: the address is in use (another supervisor?); set control.listen in the manifest to another port, or to 0 for a free one`,
    );
    expect(existsSync(first)).toBe(true);
    expect(await runCliCaptured(['drain', '-c', first])).toMatchObject({ code: 0 });
    expect(await a.exited).toBe(0);
  }, 60_000);
});
