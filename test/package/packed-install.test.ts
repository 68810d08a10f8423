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

  it('type-checks ES module and CommonJS consumers of every entry under nodenext, node16 and bundler', async () => {
    writeFileSync(
      path.join(consumer, 'check.ts'),
      [
        "import { Client, type Handler, PermanentError, Worker } from 'gworker';",
        "import { GearmanServer, openSqliteStore, type SqliteSync } from 'gworker/server';",
        "import { loadManifest, type Manifest, Supervisor } from 'gworker/supervisor';",
        'const title: Handler<string> = async (text, job) => { job.status(1, 1); return text.toUpperCase(); };',
        "const sync: SqliteSync = 'full';",
        'const manifest: Manifest | undefined = undefined;',
        'console.log(typeof Client, typeof Worker, typeof PermanentError, typeof title, sync, manifest);',
        'console.log(typeof GearmanServer, typeof openSqliteStore, typeof Supervisor, typeof loadManifest);',
        '',
      ].join('\n'),
    );
    // A CommonJS consumer: TypeScript 5.8+ under nodenext types require() of an ES module too.
    writeFileSync(
      path.join(consumer, 'check-cjs.cts'),
      [
        "import gworker = require('gworker');",
        "import server = require('gworker/server');",
        "import supervisor = require('gworker/supervisor');",
        'const worker: typeof gworker.Worker = gworker.Worker;',
        'console.log(typeof worker, typeof server.GearmanServer, typeof supervisor.Supervisor);',
        '',
      ].join('\n'),
    );
    const settings: Array<[module: string, resolution: string, files: string[]]> = [
      ['nodenext', 'nodenext', ['check.ts', 'check-cjs.cts']],
      // node16 predates require() of an ES module: TypeScript refuses it there (TS1471).
      ['node16', 'node16', ['check.ts']],
      ['preserve', 'bundler', ['check.ts', 'check-cjs.cts']],
    ];
    for (const [module, moduleResolution, files] of settings) {
      const config = path.join(consumer, `tsconfig.${moduleResolution}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution,
            target: 'ES2022',
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
            // Node's types from this checkout; everything else resolves from the consumer.
            typeRoots: [path.join(root, 'node_modules/@types')],
          },
          files,
        }),
      );
      const result = await run(process.execPath, [tsc, '-p', config], { cwd: consumer }).catch(
        (err: { stdout: string }) => ({ stdout: err.stdout, failed: true }),
      );
      expect(result.stdout, moduleResolution).toBe('');
    }
  }, 150_000);

  it('loads every entry with require() and with import(), with the same exports', async () => {
    const script = [
      "const entries = ['gworker', 'gworker/server', 'gworker/supervisor'];",
      'const required = entries.map((name) => Object.keys(require(name)).sort().join());',
      'Promise.all(entries.map((name) => import(name))).then((modules) =>',
      '  console.log(JSON.stringify([required, modules.map((m) => Object.keys(m).sort().join())])));',
    ].join('\n');
    const { stdout, stderr } = await run(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: consumer,
    });
    const [required, imported] = JSON.parse(stdout) as [string[], string[]];
    expect(required[0]).toContain('Client');
    expect(required[1]).toContain('GearmanServer');
    expect(required[2]).toContain('Supervisor');
    expect(required).toEqual(imported);
    expect(stderr).toBe('');
  });

  it('imports gworker without loading SQLite, piscina, prom-client, yaml or chokidar', async () => {
    // The probe imports by package name, so it runs from the consumer's folder, not this checkout.
    for (const file of ['loaded-packages.mjs', 'record-imports-hook.mjs'])
      cpSync(path.join(root, 'test/fixtures/package', file), path.join(consumer, file));
    const { stdout } = await run(process.execPath, ['loaded-packages.mjs', 'gworker'], { cwd: consumer });
    const { exports, packages } = JSON.parse(stdout) as { exports: string[]; packages: string[] };
    expect(exports).toContain('Client');
    expect(
      packages.filter((name) => /^(better-sqlite3|chokidar|piscina|prom-client|yaml)$/.test(name)),
    ).toEqual([]);
  });

  it('says the SQLite driver is not built when a store is opened without its install script', async () => {
    // Installed with --ignore-scripts, better-sqlite3 has no native addon: gworker/server
    // imports all the same, and opening a store names the store, the driver and the cause.
    const script = [
      "const { openSqliteStore } = await import('gworker/server');",
      "try { openSqliteStore('jobs.db'); console.log('{}'); }",
      'catch (err) { console.log(JSON.stringify({ code: err.code, reason: err.reason, message: err.message })); }',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
    const err = JSON.parse(stdout) as { code: string; reason: string; message: string };
    expect(err).toMatchObject({ code: 'GEARMAN_ERR_STORE', reason: 'driver' });
    expect(err.message).toMatch(
      /^job store jobs\.db: cannot open: the SQLite driver better-sqlite3 cannot be loaded/,
    );
    expect(err.message).toContain('bindings');
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
