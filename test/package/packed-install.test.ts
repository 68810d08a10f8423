// Issue 12: the package must stand alone once installed from its tarball: no declaration
// that needs a devDependency's types, require() and import() both work, no source map
// points at files it does not ship, LICENSE and the docs the README links to are there,
// and `npx gworker start` runs. Slow (a build, an install, a type check): one file, one
// packing, shared by every case.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, freePort, killAll, spawnTracked, stopProcess } from '../helpers/peers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
/**
 * What `npm pack` needs to build and pack: what package.json's "files" ships, plus the
 * build's inputs; never dist/ or the tests. Read from package.json, so a folder added to
 * "files" is packed here too.
 */
const kPackInputs = [
  'package.json',
  'README.md',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts',
  'src',
  ...(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] }).files.filter(
    (entry) => entry !== 'dist',
  ),
];

let work = '';
let consumer = '';
let shipped: string[] = [];
/** The gworker that npx started: npx's own exit does not end it. */
let gworkerPid = 0;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'gworker-pack-'));
  // Packed from a copy, so that prepare's build never empties this checkout's dist/
  // while other test files load it.
  const copy = path.join(work, 'checkout');
  for (const entry of kPackInputs) {
    if (existsSync(path.join(root, entry)))
      cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: copy,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  if (packed === undefined) throw new Error(`npm pack printed no package: ${stdout}`);
  shipped = packed.files.map((f) => f.path);
  const tarball = path.join(work, packed.filename);

  consumer = path.join(work, 'consumer');
  mkdirSync(path.join(consumer, 'handlers'), { recursive: true });
  writeFileSync(
    path.join(consumer, 'package.json'),
    '{ "name": "consumer", "private": true, "type": "module" }\n',
  );
  // Scripts off: better-sqlite3 would compile from source (minutes); nothing here opens a store.
  const install = ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball];
  try {
    await run('npm', [...install, '--offline'], { cwd: consumer });
  } catch {
    // The cache holds the tarballs (npm ci) but maybe not the registry's metadata yet.
    await run('npm', [...install, '--prefer-offline'], { cwd: consumer });
  }
}, 150_000);

afterAll(async () => {
  await killAll();
  if (gworkerPid !== 0) {
    try {
      process.kill(gworkerPid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('the package installed from its tarball', () => {
  it('ships LICENSE, no source maps, and every file its Markdown links to', () => {
    expect(shipped).toContain('LICENSE');
    expect(readFileSync(path.join(consumer, 'node_modules/gworker/LICENSE'), 'utf8')).toMatch(
      /^MIT License[\s\S]*gworker contributors/,
    );
    expect(shipped.filter((f) => f.endsWith('.map'))).toEqual([]);
    const broken: string[] = [];
    for (const file of shipped.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(consumer, 'node_modules/gworker', file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:|^#/i.test(target)) continue;
        const linked = path.posix.normalize(
          path.posix.join(path.posix.dirname(file), target.split('#')[0] ?? ''),
        );
        if (!shipped.includes(linked)) broken.push(`${file} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('type-checks an ES module and a CommonJS consumer with skipLibCheck: false', async () => {
    writeFileSync(
      path.join(consumer, 'check.ts'),
      [
        "import { Client, type Handler, openSqliteStore, type SqliteSync, Supervisor, Worker } from 'gworker';",
        'const title: Handler<string> = async (text, job) => { job.status(1, 1); return text.toUpperCase(); };',
        "const sync: SqliteSync = 'full';",
        'console.log(typeof Client, typeof Supervisor, typeof Worker, typeof openSqliteStore, typeof title, sync);',
        '',
      ].join('\n'),
    );
    // A CommonJS consumer: TypeScript 5.8+ under nodenext types require() of an ES module too.
    writeFileSync(
      path.join(consumer, 'check-cjs.cts'),
      "import gworker = require('gworker');\nconst worker: typeof gworker.Worker = gworker.Worker;\nconsole.log(typeof worker);\n",
    );
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'ES2022',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          // Node's types from this checkout; everything else resolves from the consumer.
          typeRoots: [path.join(root, 'node_modules/@types')],
        },
        files: ['check.ts', 'check-cjs.cts'],
      }),
    );
    const result = await run(process.execPath, [tsc, '-p', consumer], { cwd: consumer }).catch(
      (err: { stdout: string }) => ({ stdout: err.stdout, failed: true }),
    );
    expect(result.stdout).toBe('');
  }, 60_000);

  it('loads with require() and with import(), with the same exports', async () => {
    const script = [
      "const required = Object.keys(require('gworker')).sort().join();",
      "import('gworker').then((m) => console.log(JSON.stringify([required, Object.keys(m).sort().join()])));",
    ].join('\n');
    const { stdout, stderr } = await run(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: consumer,
    });
    const [required, imported] = JSON.parse(stdout) as [string, string];
    expect(required).toContain('Supervisor');
    expect(required).toBe(imported);
    expect(stderr).toBe('');
  });

  it('runs `npx gworker start` on a manifest there until SIGTERM', async () => {
    writeFileSync(
      path.join(consumer, 'handlers/title.js'),
      'export default async (text) => String(text).toUpperCase();\n',
    );
    const port = await freePort();
    writeFileSync(
      path.join(consumer, 'gworker.yaml'),
      `embeddedServer: 0\ncontrol: 127.0.0.1:${port}\nfunctions:\n  title: { handler: ./handlers/title.js }\n`,
    );
    const pidFile = path.join(consumer, 'gworker.pid');
    const child = spawnTracked('npx', ['--no', 'gworker', 'start', '--pid-file', pidFile, 'gworker.yaml'], {
      cwd: consumer,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collect(child);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "gworker started" in 20 s:\n${stderr}`)), 20_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('gworker started')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    gworkerPid = pid;
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    // The signal goes to gworker itself: npm exec runs it under `sh -c`, and a SIGTERM
    // sent to npm ends that shell without passing it on (docs/operations.md says so).
    process.kill(pid, 'SIGTERM');
    const stopped = setTimeout(() => void stopProcess(child, 'SIGKILL'), 15_000);
    const { code, stderr: log } = await output;
    clearTimeout(stopped);
    expect(log).toContain('"msg":"stopped"');
    expect(code).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 40_000);
});
