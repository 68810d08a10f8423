import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatPretty, type PrettyOptions } from '../../src/cli/pretty-log.js';
import { type LogLine, spawnGworker } from '../helpers/gworker-process.js';
import { killAll } from '../helpers/peers.js';

// Pretty logs on a terminal are one line per event (issue 11, "What the operator
// reads"). The records are real: a supervisor's JSON lines, formatted as a TTY gets them.

const kInfo: PrettyOptions = { colors: false, stacks: false };
const pretty = (lines: readonly LogLine[], options = kInfo) =>
  lines.map((l) => formatPretty(l, options)).join('');

function project(): { dir: string; manifest: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-pretty-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const name of ['a', 'b', 'c'])
    writeFileSync(path.join(dir, `${name}.js`), 'export default (p) => p;\n');
  return { dir, manifest: path.join(dir, 'gworker.yaml') };
}

afterEach(async () => {
  await killAll();
});

describe('pretty logs on a terminal', () => {
  it('start-up for three functions and a rejected reload are one line per event', async () => {
    const { dir, manifest } = project();
    writeFileSync(
      manifest,
      'embeddedServer: 0\ncontrol: 0\nfunctions:\n  a: { handler: ./a.js, concurrency: 2 }\n  b: { handler: ./b.js }\n  c: { handler: ./c.js }\n',
    );
    const proc = spawnGworker(['start', manifest]);
    await proc.waitForLog((l) => l.msg.startsWith('gworker started'), 30_000);
    const startup = [...proc.logs];
    const text = pretty(startup);
    expect(text.split('\n').length - 1).toBe(startup.length);
    expect(startup.length).toBeLessThanOrEqual(12);
    expect(text).not.toMatch(/[{}"]/);
    expect(text).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}gworker started with the embedded job server on 127\.0\.0\.1:\d+ /m,
    );

    writeFileSync(path.join(dir, 'b.js'), 'export default (p) => {\n  return p +;\n};\n');
    const rejected = await proc.waitForLog((l) => l.msg.startsWith('reload rejected'), 30_000);
    const line = formatPretty(rejected, kInfo);
    expect(line.split('\n')).toEqual([
      expect.stringMatching(
        /^\S+ ERROR reload rejected, old code keeps serving: cannot load \S+b\.js:2:13: SyntaxError: Unexpected token ';' function=b$/,
      ),
      '',
    ]);
    // At debug level the stack is there for whoever wants it.
    expect(formatPretty(rejected, { colors: false, stacks: true })).toMatch(/\n {4}at \S+/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 60_000);

  it('an address in use at start is one line and a hint, with no stack', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { manifest } = project();
      writeFileSync(manifest, `embeddedServer: ${port}\ncontrol: 0\nfunctions:\n  a: { handler: ./a.js }\n`);
      const proc = spawnGworker(['start', manifest]);
      expect(await proc.exited).toBe(1);
      const text = pretty(proc.logs.filter((l) => l.level >= 50));
      expect(text.split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `ERROR cannot start the embedded job server: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}$`,
          ),
        ),
        expect.stringMatching(
          /^ {2}hint: another process listens on 127\.0\.0\.1:\d+ .*0 picks a free one\)$/,
        ),
        '',
      ]);
    } finally {
      taken.close();
    }
  }, 30_000);

  it("shows a handler's own error with its stack, at info level too", () => {
    const line = formatPretty(
      {
        level: 40,
        time: 0,
        function: 'resize',
        jobHandle: 'H:box:7',
        handlerError: true,
        err: {
          type: 'TypeError',
          message: "Cannot read properties of null (reading 'x')",
          stack:
            "TypeError: Cannot read properties of null (reading 'x')\n    at resize (/srv/resize.js:3:14)",
        },
        msg: "resize: job H:box:7 did not complete (exception): TypeError: Cannot read properties of null (reading 'x')",
      },
      kInfo,
    );
    expect(line.split('\n').slice(1)).toEqual(['    at resize (/srv/resize.js:3:14)', '']);
    expect(line).not.toContain('jobHandle');
  });
});
