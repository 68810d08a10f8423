import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPort, type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { stopProcess } from '../helpers/peers.js';

// The commands the README and docs show run as written (issue 11, "Docs"): every
// `npx gworker check` of a manifest in this repository, and the README's `submit` lines
// against `npm start`'s manifest, with the output their comments promise.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(root, 'bin/gworker.js');

/** The lines of every ```sh block in README.md and docs/*.md. */
function shellLines(): string[] {
  const files = [
    'README.md',
    ...readdirSync(path.join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const lines: string[] = [];
  for (const file of files) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g))
      lines.push(...(block[1] as string).split('\n'));
  }
  return lines.map((l) => l.trim()).filter((l) => l !== '');
}

/** Splits a command line as sh would for the simple quoting the docs use. */
function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? (m[3] as string));
}

/** `npx gworker ARGS   # comment` → the arguments and the comment. */
function parse(line: string): { args: string[]; comment: string } {
  const at = line.indexOf(' #');
  const command = at < 0 ? line : line.slice(0, at);
  return { args: words(command).slice(2), comment: at < 0 ? '' : line.slice(at + 2).trim() };
}

const gworkerLines = shellLines().filter(
  (l) => l.startsWith('npx gworker ') || l.startsWith('node bin/gworker.js '),
);

describe('the docs show no bare gworker command', () => {
  it('every gworker command in a sh block is npx gworker or node bin/gworker.js', () => {
    expect(shellLines().filter((l) => /^gworker /.test(l))).toEqual([]);
    expect(gworkerLines.length).toBeGreaterThan(5);
  });
});

describe('npx gworker check on the example manifest', () => {
  it('validates config/gworker.yaml and loads its handlers', async () => {
    const { stdout } = await run(process.execPath, [bin, 'check', 'config/gworker.yaml'], { cwd: root });
    expect(stdout).toContain('title: handler');
  }, 60_000);
});

describe("the README's submit lines against npm start's manifest", () => {
  let proc: GworkerProcess;
  let port: number;

  beforeAll(async () => {
    // config/gworker.yaml as npm start runs it, on free ports (tests run side by side).
    const text = readFileSync(path.join(root, 'config/gworker.yaml'), 'utf8')
      .replaceAll('../workers/', `${path.join(root, 'workers')}/`)
      .replace(/cwd: \.\.\s/, `cwd: ${root}\n`);
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-doc-examples-'));
    const manifest = path.join(dir, 'gworker.yaml');
    writeFileSync(manifest, `embeddedServer: 0\ncontrol: 0\n${text}`);
    proc = spawnGworker(['start', '--no-watch', manifest]);
    port = await embeddedPort(proc);
  }, 60_000);

  afterAll(async () => {
    await stopProcess(proc.child, 'SIGTERM');
  });

  const submits = gworkerLines.filter((l) => l.includes(' submit ') && / # /.test(l));

  it('has submit lines whose comments give the expected result', () => {
    expect(submits.length).toBeGreaterThanOrEqual(2);
  });

  it.each(submits)(
    '%s',
    async (line) => {
      const { args, comment } = parse(line);
      const { stdout } = await run(process.execPath, [bin, ...args, '-s', `127.0.0.1:${port}`], {
        cwd: root,
        timeout: 30_000,
      });
      expect(stdout.trim()).toBe(comment);
    },
    40_000,
  );
});
