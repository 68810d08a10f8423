import net from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import type { TlsOptions } from '../../src/net/address.js';
import type { GearmanServerOptions } from '../../src/server/options.js';
import { GearmanServer } from '../../src/server/server.js';
import { Worker } from '../../src/worker/worker.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { type LogEntry, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { curl } from './helpers/curl.js';
import { startServer } from './helpers/own-server.js';

let certs: TestCerts;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await killAll();
  await Promise.all(open.splice(0).map((item) => item.close()));
});

describeWithPeers(['openssl'], 'TLS on the binary and admin port', () => {
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(async () => {
    await certs?.cleanup();
  });

  async function tlsServer(options: GearmanServerOptions = {}) {
    return startServer({ tls: { cert: certs.server.cert, key: certs.server.key }, ...options });
  }

  function tlsAddress(port: number, tls: TlsOptions = { ca: certs.ca.cert }) {
    return { host: '127.0.0.1', port, tls };
  }

  /** A worker serving `upper`, and a client; both over TLS with `tls`. */
  async function roundTrip(port: number, tls: TlsOptions): Promise<string> {
    const worker = new Worker({ servers: [tlsAddress(port, tls)], reconnect: false });
    open.push({ close: () => worker.close({ force: true }) });
    worker.register('upper', (job) => job.payload.toString().toUpperCase());
    await worker.start();
    const client = new Client({ servers: [tlsAddress(port, tls)], reconnect: false });
    open.push(client);
    return (await client.submit('upper', 'secret payload', { timeoutMs: 5000 }).result).toString();
  }

  it('runs a job between our Client and Worker over TLS', async () => {
    const { port } = await tlsServer();
    expect(await roundTrip(port, { ca: certs.ca.cert })).toBe('SECRET PAYLOAD');
  });

  it('serves the admin protocol over TLS', async () => {
    const { port } = await tlsServer();
    const admin = new AdminClient({ server: tlsAddress(port) });
    open.push(admin);
    expect(await admin.version()).toMatch(/\+gworker$/);
    expect(await admin.status()).toEqual([]);
  });

  it('refuses a plaintext client cleanly, logs one line, and keeps serving', async () => {
    const lines: LogEntry[] = [];
    const { port, server } = await tlsServer({ logger: recordingLogger(lines) });
    const plain = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false });
    open.push(plain);
    await expect(plain.submit('upper', 'x', { timeoutMs: 5000 }).result).rejects.toThrow();
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
    });
    socket.write('status\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(reply).not.toContain('.\n'); // no admin reply in plaintext, only a TLS alert at most
    const failures = await eventually(() => {
      const found = lines.filter((line) => line.msg === 'TLS handshake failed');
      return found.length > 0 ? found : undefined;
    });
    // Two bad clients within a second: one line, the second counted as suppressed.
    expect(failures).toHaveLength(1);
    expect(server.connectionCount).toBe(0);
    expect(await roundTrip(port, { ca: certs.ca.cert })).toBe('SECRET PAYLOAD');
  });

  it('fails a client that does not trust the server certificate', async () => {
    const { port } = await tlsServer();
    const client = new Client({ servers: [tlsAddress(port, {})], reconnect: false });
    open.push(client);
    await expect(client.submit('upper', 'x', { timeoutMs: 5000 }).result).rejects.toThrow();
    // An insecure client (tests only) connects anyway.
    expect(await roundTrip(port, { rejectUnauthorized: false })).toBe('SECRET PAYLOAD');
  });

  it('with a CA, refuses clients without a certificate or with one it did not sign', async () => {
    const { port, server } = await tlsServer({
      tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert },
    });
    for (const tls of [
      { ca: certs.ca.cert },
      { ca: certs.ca.cert, cert: certs.rogueClient.cert, key: certs.rogueClient.key },
    ]) {
      const client = new Client({ servers: [tlsAddress(port, tls)], reconnect: false });
      open.push(client);
      await expect(client.submit('upper', 'x', { timeoutMs: 5000 }).result).rejects.toThrow();
    }
    expect(server.jobCount).toBe(0);
    expect(await roundTrip(port, { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key })).toBe(
      'SECRET PAYLOAD',
    );
  });

  it('refuses TLS options that cannot work, at construction', () => {
    expect(() => new GearmanServer({ tls: { cert: certs.server.cert, key: certs.client.key } })).toThrow(
      TypeError,
    );
    expect(() => new GearmanServer({ tls: { cert: 'not a pem', key: 'nor this' } })).toThrow(/tls/);
    expect(() => new GearmanServer({ tls: { cert: certs.server.cert } as never })).toThrow(/cert and key/);
  });
});

describeWithPeers(['openssl', 'curl'], 'TLS on the HTTP gateway', () => {
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(async () => {
    await certs?.cleanup();
  });

  it('serves HTTPS with the server certificate when TLS is on', async () => {
    const { port, server } = await startServer({
      httpPort: 0,
      tls: { cert: certs.server.cert, key: certs.server.key },
    });
    const worker = new Worker({ servers: [{ host: '127.0.0.1', port, tls: { ca: certs.ca.cert } }] });
    open.push({ close: () => worker.close({ force: true }) });
    worker.register('upper', (job) => job.payload.toString().toUpperCase());
    await worker.start();
    const url = `https://127.0.0.1:${server.httpAddress?.port}/upper`;
    const res = await curl(['--cacert', certs.ca.certFile, '-d', 'over https', url]);
    expect([res.status, res.body.toString()]).toEqual([200, 'OVER HTTPS']);
    const plain = await curl(['-d', 'x', `http://127.0.0.1:${server.httpAddress?.port}/upper`]);
    expect(plain.status).not.toBe(200);
  });

  it('requires a client certificate on HTTPS too when a CA is given', async () => {
    const { server } = await startServer({
      httpPort: 0,
      tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert },
    });
    const url = `https://127.0.0.1:${server.httpAddress?.port}/`;
    const without = await curl(['--cacert', certs.ca.certFile, url]);
    expect(without.status).toBe(0);
    expect(without.exitCode).not.toBe(0);
    const withCert = await curl([
      '--cacert',
      certs.ca.certFile,
      '--cert',
      certs.client.certFile,
      '--key',
      certs.client.keyFile,
      url,
    ]);
    expect(withCert.status).toBe(200);
  });
});
