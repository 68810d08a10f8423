// Issue 12: the container recipe. No container engine runs on these machines, so the image
// is never built here: what can be checked without one is, the Dockerfile's shape and
// sources, the compose file's references, and the entrypoint's signal path run for real
// under tini (a running `command:` job finishes during the drain; nothing is SIGKILLed).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Client } from '../../src/client/client.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { describeWithPeers, freePort, killAll, spawnTracked, waitForPort } from '../helpers/peers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const entrypoint = path.join(root, 'config/docker/entrypoint.sh');
const healthcheck = path.join(root, 'config/docker/healthcheck.mjs');

interface Stage {
  readonly name: string;
  /** The stage's instructions, continuation lines joined. */
  readonly lines: string[];
}

function stages(text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n');
  const found: Stage[] = [];
  for (const line of joined.map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+\s+AS\s+(\S+)$/i.exec(line);
    if (from) found.push({ name: from[1] ?? '', lines: [] });
    else found.at(-1)?.lines.push(line);
  }
  return found;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  await killAll();
});

describe('the Dockerfile', () => {
  const all = stages(dockerfile);
  const final = all.at(-1) as Stage;

  it('builds in stages and ends in the worker box, run as a user that is not root', () => {
    expect(all.map((s) => s.name)).toEqual(['deps', 'build', 'gearmand', 'gworker']);
    expect(final.name).toBe('gworker');
    const users = final.lines.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toBe('USER gworker');
  });

  it('installs production dependencies with npm ci --omit=dev and copies only those into the box', () => {
    const deps = all.find((s) => s.name === 'deps') as Stage;
    expect(deps.lines.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    expect(final.lines).toContain('COPY --from=deps /opt/gworker/node_modules ./node_modules');
    expect(final.lines.some((l) => /^RUN npm (ci|install)\b/.test(l))).toBe(false);
  });

  it('runs gworker under tini, with a HEALTHCHECK on /healthz', () => {
    expect(final.lines).toContain(
      'ENTRYPOINT ["/usr/bin/tini", "--", "/opt/gworker/config/docker/entrypoint.sh"]',
    );
    expect(
      final.lines.some((l) =>
        /^HEALTHCHECK .*CMD \["node", "\/opt\/gworker\/config\/docker\/healthcheck\.mjs"\]$/.test(l),
      ),
    ).toBe(true);
    expect(readFileSync(healthcheck, 'utf8')).toContain("'http://127.0.0.1:4731/healthz'");
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    const sources = all
      .flatMap((s) => s.lines)
      .filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(path.join(root, source)), source).toBe(true);
      expect(ignored.includes(source.split('/')[0] ?? ''), source).toBe(false);
    }
  });

  it('ships a manifest that is valid, and a compose file whose targets and grace period fit it', () => {
    const text = readFileSync(path.join(root, 'config/docker/gworker.yaml'), 'utf8');
    // In the image the handler is under /opt/gworker; here, under the checkout.
    const manifest = parseManifest(
      text.replaceAll('/opt/gworker/', root),
      path.join(root, 'config/docker/gworker.yaml'),
      {
        env: {},
      },
    );
    expect(manifest.servers?.map((s) => `${s.host}:${s.port}`)).toEqual(['gearmand:4730']);
    const compose = YAML.parse(readFileSync(path.join(root, 'config/docker/compose.yaml'), 'utf8')) as {
      services: Record<string, { build: { context: string; target: string }; stop_grace_period?: string }>;
    };
    const boxes = Object.entries(compose.services).filter(([, s]) => s.build.target === 'gworker');
    expect(boxes.map(([name]) => name)).toEqual(['gworker-a', 'gworker-b']);
    expect(compose.services.gearmand?.build.target).toBe('gearmand');
    for (const [, service] of Object.entries(compose.services)) {
      expect(path.resolve(root, 'config/docker', service.build.context)).toBe(path.resolve(root));
      expect(all.map((s) => s.name)).toContain(service.build.target);
    }
    for (const [, box] of boxes) {
      expect(Number.parseInt(box.stop_grace_period ?? '0', 10) * 1000).toBeGreaterThan(
        manifest.shutdownTimeoutMs,
      );
    }
  });
});

describeWithPeers(['tini'], 'the entrypoint under tini, as the container runs it', () => {
  it('execs gworker, so that SIGTERM to tini drains it: a running command job finishes, exit 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-container-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const [jobPort, controlPort] = [await freePort(), await freePort()];
    writeFileSync(
      path.join(dir, 'gworker.yaml'),
      `embeddedServer: ${jobPort}\ncontrol: 127.0.0.1:${controlPort}\nshutdownTimeout: 20s\nfunctions:\n  slow: { command: 'sleep 1.5; echo finished' }\n`,
    );
    const tini = spawnTracked('tini', ['--', entrypoint, 'start', path.join(dir, 'gworker.yaml')], {
      env: { ...process.env, GWORKER_HOME: path.resolve(root) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    tini.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => tini.once('exit', (code) => resolve(code)));
    await waitForPort(controlPort, 15_000);
    // tini's child is node itself, not a shell waiting on it.
    const children = readFileSync(`/proc/${tini.pid}/task/${tini.pid}/children`, 'utf8').trim().split(/\s+/);
    // tini runs its child in a process group of its own: a failed test ends that group.
    cleanups.push(async () => {
      for (const pid of children) {
        try {
          process.kill(-Number(pid), 'SIGKILL');
        } catch {
          // Gone already, as it should be.
        }
      }
    });
    expect(children).toHaveLength(1);
    expect(readFileSync(`/proc/${children[0]}/cmdline`, 'utf8').split('\0')).toContain(
      path.join(root, 'bin/gworker.js'),
    );
    const health = { ...process.env, GWORKER_HEALTH_URL: `http://127.0.0.1:${controlPort}/healthz` };
    await expect(run(process.execPath, [healthcheck], { env: health })).resolves.toMatchObject({
      stderr: '',
    });

    const client = new Client({ servers: [`127.0.0.1:${jobPort}`] });
    cleanups.push(() => client.close());
    const job = client.run('slow', '');
    await new Promise((resolve) => setTimeout(resolve, 600));
    tini.kill('SIGTERM');
    expect((await job).toString().trim()).toBe('finished');
    expect(await exited).toBe(0);
    expect(log).toContain('"msg":"stopped"');
    // Nothing listens any more: the health check says so and fails.
    const down = await run(process.execPath, [healthcheck], { env: health }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(down).toMatchObject({ code: 1, stderr: expect.stringContaining('ECONNREFUSED') });
  }, 40_000);

  it('runs any other command as given', async () => {
    const { stdout } = await run('tini', ['--', entrypoint, 'sh', '-c', 'echo "$0 ran"'], {
      env: { ...process.env, GWORKER_HOME: path.resolve(root) },
    });
    expect(stdout).toBe('sh ran\n');
  });
});
