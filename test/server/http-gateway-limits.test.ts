import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { GearmanServer } from '../../src/server/server.js';
import type { JobStore, StoredJob, StoreKey } from '../../src/server/store.js';
import { Worker } from '../../src/worker/worker.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { eventually, sleep } from './helpers/conformance.js';
import { curl } from './helpers/curl.js';
import { startServer } from './helpers/own-server.js';

const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await killAll();
  await Promise.all(open.splice(0).map((item) => item.close()));
});

function worker(port: number): Worker {
  const w = new Worker({ servers: [`127.0.0.1:${port}`] });
  open.push({ close: () => w.close({ force: true }) });
  return w;
}

/** This machine's first non-loopback IPv4 address, if it has one. */
function externalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return undefined;
}

/** A durable store whose commits the test releases (or fails). */
class GatedStore implements JobStore {
  readonly durable = true;
  gate: Promise<void> | null = null;
  failNext = false;
  #next = 1;
  async replay(): Promise<void> {}
  add(_job: StoredJob): StoreKey {
    return this.#next++;
  }
  remove(): void {}
  async flush(): Promise<void> {
    if (this.gate !== null) await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
  }
  async close(): Promise<void> {}
}

describe('HTTP gateway options', () => {
  it('refuses bad options at construction', () => {
    expect(() => new GearmanServer({ httpPort: 70000 })).toThrow(/httpPort/);
    expect(() => new GearmanServer({ httpPort: 0, httpMaxBodySize: -1 })).toThrow(/httpMaxBodySize/);
    expect(() => new GearmanServer({ httpPort: 0, httpHost: '' })).toThrow(/httpHost/);
    expect(
      () => new GearmanServer({ httpPort: 0, httpHeadersTimeoutMs: 5000, httpRequestTimeoutMs: 1000 }),
    ).toThrow(/httpRequestTimeoutMs/);
  });

  it('has no gateway without httpPort', async () => {
    const { server } = await startServer();
    expect(server.httpAddress).toBeNull();
  });

  it('rejects listen() when the HTTP port is taken, and frees the binary port', async () => {
    const { server } = await startServer({ httpPort: 0 });
    const taken = server.httpAddress?.port as number;
    const second = new GearmanServer({ port: 0, httpPort: taken });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(second.address).toBeNull();
    await second.close();
  });

  it('listens on the server host by default and on httpHost when given', async () => {
    const { server } = await startServer({ httpPort: 0 });
    expect(server.httpAddress?.host).toBe('127.0.0.1');
    const { server: other } = await startServer({ host: '0.0.0.0', httpPort: 0, httpHost: '127.0.0.1' });
    expect(other.address?.host).toBe('0.0.0.0');
    expect(other.httpAddress?.host).toBe('127.0.0.1');
  });
});

describeWithPeers(['curl'], 'HTTP gateway: who may call it', () => {
  const external = externalIPv4();

  it.skipIf(external === undefined)(
    'refuses clients that are not on loopback unless httpAllowRemote',
    async () => {
      const { server } = await startServer({ host: '0.0.0.0', httpPort: 0 });
      const port = server.httpAddress?.port as number;
      const remote = await curl([`http://${external}:${port}/`]);
      expect(remote.status).toBe(403);
      expect(remote.body.toString()).toMatch(/loopback clients only/);
      const local = await curl([`http://127.0.0.1:${port}/`]);
      expect(local.status).toBe(200);

      const { server: open } = await startServer({ host: '0.0.0.0', httpPort: 0, httpAllowRemote: true });
      const allowed = await curl([`http://${external}:${open.httpAddress?.port}/`]);
      expect(allowed.status).toBe(200);
    },
  );

  it('refuses a Host header that names no loopback address (DNS rebinding)', async () => {
    const { server } = await startServer({ httpPort: 0 });
    const url = `http://127.0.0.1:${server.httpAddress?.port}/`;
    expect((await curl(['-H', 'Host: attacker.example:8080', url])).status).toBe(403);
    expect((await curl(['-H', `Host: localhost:${server.httpAddress?.port}`, url])).status).toBe(200);
    expect((await curl(['-H', 'Host: [::1]', url])).status).toBe(200);
  });

  it('refuses requests a browser marks as cross-site', async () => {
    const { server } = await startServer({ httpPort: 0, httpAllowRemote: true });
    const url = `http://127.0.0.1:${server.httpAddress?.port}/fn`;
    const res = await curl(['-H', 'Sec-Fetch-Site: cross-site', '-d', 'x', url]);
    expect(res.status).toBe(403);
    expect(server.jobCount).toBe(0);
  });

  // Issue 10, item 10: an old browser sends Origin but no Sec-Fetch-Site.
  it('refuses a request whose Origin is another site or opaque, and serves same-origin and Origin-less ones', async () => {
    const { server } = await startServer({ httpPort: 0 });
    const port = server.httpAddress?.port as number;
    const url = `http://127.0.0.1:${port}/fn`;
    const background = ['-H', 'X-Gearman-Background: true'];
    for (const origin of ['http://attacker.example', `http://127.0.0.1:${port + 1}`, 'null', 'not a url']) {
      const res = await curl(['-H', `Origin: ${origin}`, ...background, '-d', 'x', url]);
      expect(res.status, origin).toBe(403);
    }
    expect(server.jobCount).toBe(0);
    expect(
      (await curl(['-H', `Origin: http://127.0.0.1:${port}`, ...background, '-d', 'same', url])).status,
    ).toBe(202);
    expect((await curl([...background, '-d', 'none', url])).status).toBe(202);
    expect(server.jobCount).toBe(2);
  });
});

describeWithPeers(['curl'], 'HTTP gateway: timeouts and shutdown', () => {
  it('answers 408 and closes a connection whose headers do not come in time', async () => {
    const { server } = await startServer({ httpPort: 0, httpHeadersTimeoutMs: 200 });
    const socket = net.connect({ host: '127.0.0.1', port: server.httpAddress?.port as number });
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
    });
    socket.write('POST /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect(server.jobCount).toBe(0);
  });

  it('answers a background submit after the durable store commits it, and 500 when it fails', async () => {
    const store = new GatedStore();
    let release = (): void => {};
    store.gate = new Promise((resolve) => {
      release = resolve;
    });
    const { server } = await startServer({ httpPort: 0, store });
    const url = `http://127.0.0.1:${server.httpAddress?.port}/stored`;
    let answered = false;
    const pending = curl(['-H', 'X-Gearman-Background: true', '-d', 'x', url]).then((res) => {
      answered = true;
      return res;
    });
    await eventually(() => (server.jobCount === 1 ? true : undefined));
    await sleep(100);
    expect(answered).toBe(false);
    release();
    const res = await pending;
    expect(res.status).toBe(202);
    expect(res.headers['x-gearman-job-handle']).toMatch(/^H:t:/);

    store.gate = null;
    store.failNext = true;
    const failed = await curl(['-H', 'X-Gearman-Background: true', '-d', 'y', url]);
    expect(failed.status).toBe(500);
    expect(failed.body.toString()).toMatch(/QUEUE_ERROR/);
  });

  it('answers 503 to a request still waiting when the server closes', async () => {
    const server = new GearmanServer({ port: 0, httpPort: 0 });
    await server.listen();
    const pending = curl(['-d', 'x', `http://127.0.0.1:${server.httpAddress?.port}/nobody`]);
    await eventually(() => (server.jobCount === 1 ? true : undefined));
    await server.close();
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.body.toString()).toBe('the server is shutting down\n');
  });

  it('lets a running job answer its HTTP client during a graceful close, and takes no new request', async () => {
    const server = new GearmanServer({ port: 0, httpPort: 0 });
    const { port } = await server.listen();
    const httpPort = server.httpAddress?.port as number;
    let finish = (): void => {};
    const w = worker(port);
    w.register('busy', async () => {
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      return 'finished';
    });
    await w.start();
    const running = curl(['-d', 'x', `http://127.0.0.1:${httpPort}/busy`]);
    await eventually(() => (server.runningJobCount === 1 ? true : undefined));
    const closing = server.close({ graceful: true });
    await sleep(100);
    const refused = await curl([`http://127.0.0.1:${httpPort}/`]);
    expect(refused.exitCode).toBe(7); // curl: failed to connect
    finish();
    const res = await running;
    expect([res.status, res.body.toString()]).toEqual([200, 'finished']);
    await closing;
  });
});
