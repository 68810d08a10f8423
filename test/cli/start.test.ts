import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { embeddedPort, spawnGworker } from '../helpers/gworker-process.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

const run = promisify(execFile);
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await killAll();
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-start-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const kTitle = `const d = new Set([' ', '\\t', '\\r', '\\n', '\\f', '\\v']);
export default (s) => { let o = ''; let w = true; for (const c of s) { const l = c.toLowerCase(); o += w ? l.toUpperCase() : l; w = d.has(c); } return o; };
`;

describe('gworker start', () => {
  it('rejects an invalid manifest with every problem, exit 78 (EX_CONFIG), and runs nothing', async () => {
    const dir = project({
      'gworker.yaml': 'functions:\n  a:\n    handler: ./missing.js\n    concurrency: 0\n',
    });
    const proc = spawnGworker(['start', path.join(dir, 'gworker.yaml')]);
    // Distinct from 1: the systemd unit's RestartPreventExitStatus=78 (issue 12).
    expect(await proc.exited).toBe(78);
    expect(proc.stderr()).toContain(
      `${path.join(dir, 'gworker.yaml')}:3:14: functions.a.handler: handler file not found`,
    );
    expect(proc.stderr()).toContain(':4:18: functions.a.concurrency: expected a whole number');
  });

  it('exits 1 with the reason when a handler cannot load', async () => {
    const dir = project({
      'broken.js': 'export default function (',
      'gworker.yaml': 'embeddedServer: 0\nfunctions:\n  b:\n    handler: ./broken.js\n',
    });
    const proc = spawnGworker(['start', path.join(dir, 'gworker.yaml')]);
    expect(await proc.exited).toBe(1);
    expect(proc.logs.some((l) => l.msg.includes('cannot load') && l.msg.includes('broken.js'))).toBe(true);
  });
});

describe('gworker start with a durable embedded server', () => {
  it('keeps background jobs across a restart and serves the HTTP gateway', async () => {
    const dir = project({
      'title.js': kTitle,
      'gworker.yaml': `control: false
embeddedServer:
  listen: 0
  store: ./jobs.sqlite
  httpPort: 0
functions:
  title: { handler: ./title.js, payload: text }
`,
    });
    const manifest = path.join(dir, 'gworker.yaml');
    const first = spawnGworker(['start', manifest]);
    const port = await embeddedPort(first);
    const gateway = await first.waitForLog((l) => l.msg.startsWith("embedded job server's HTTP gateway on"));
    const url = /on (http:\/\/\S+)$/.exec(gateway.msg)?.[1] as string;
    const reply = await fetch(`${url}title`, { method: 'POST', body: 'hello wORLD' });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toBe('Hello World');
    // A job for a function nobody serves stays queued: it must survive the restart.
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    clients.push(client);
    await client.submitBackground('unserved', 'keep me');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = spawnGworker(['start', manifest]);
    const port2 = await embeddedPort(second);
    const admin = new AdminClient({ server: `127.0.0.1:${port2}` });
    try {
      const rows = await admin.status();
      expect(rows.find((r) => r.function === 'unserved')).toMatchObject({ total: 1, running: 0 });
    } finally {
      await admin.close();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describeWithPeers(['php', 'gearman'], 'gworker start with the embedded server', () => {
  it("serves the seed's PHP client and `gearman -f`, then stops cleanly on SIGTERM", async () => {
    const dir = project({
      'title.js': kTitle,
      'client.php': `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$argv[1]);
print $client->doNormal("title", "AlL THE woRLd");
`,
      'gworker.yaml': `control: false
embeddedServer: 0
functions:
  title: { handler: ./title.js, payload: text }
  ls: { command: [ls, -lh] }
`,
    });
    const proc = spawnGworker(['start', path.join(dir, 'gworker.yaml')]);
    const port = await embeddedPort(proc);
    const php = await run('php', [path.join(dir, 'client.php'), String(port)]);
    expect(php.stdout).toBe('All The World');
    // `gearman -f ls < /dev/null`, as in the seed: the client sends stdin as the workload.
    const pending = run('gearman', ['-h', '127.0.0.1', '-p', String(port), '-f', 'ls'], { timeout: 10_000 });
    pending.child.stdin?.end();
    const ls = await pending;
    expect(ls.stdout).toMatch(/client\.php/);
    expect(ls.stdout).toMatch(/^total /);
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    clients.push(client);
    expect((await client.run('title', 'hello wORLD')).toString()).toBe('Hello World');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.logs.at(-1)?.msg).toBe('stopped');
  });
});
