// Issue 10, item 8: 400 TCP connects that never started TLS kept 275 sockets open and
// real TLS clients were refused; handshakes in progress were not counted against
// maxConnections, and each failure was its own log line.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { Worker } from '../../src/worker/worker.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { describeWithPeers } from '../helpers/peers.js';
import { type LogEntry, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';

let certs: TestCerts;
const open: Array<{ close(): Promise<void> }> = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((item) => item.close()));
});

/** `count` TCP connections to `port` that never send a byte; each records when the server closed it. */
async function silentSockets(port: number, count: number): Promise<Array<{ closedAt: number | null }>> {
  const states = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = net.connect({ host: '127.0.0.1', port });
      sockets.push(socket);
      const state: { closedAt: number | null } = { closedAt: null };
      socket.on('error', () => {});
      socket.on('close', () => {
        state.closedAt = Date.now();
      });
      await new Promise((resolve) => socket.once('connect', resolve));
      return state;
    }),
  );
  return states;
}

describeWithPeers(['openssl'], 'TLS handshakes that never finish', () => {
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(async () => {
    await certs?.cleanup();
  });

  async function roundTrip(port: number): Promise<string> {
    const address = { host: '127.0.0.1', port, tls: { ca: certs.ca.cert } };
    const worker = new Worker({ servers: [address], reconnect: false });
    open.push({ close: () => worker.close({ force: true }) });
    worker.register('upper', (job) => job.payload.toString().toUpperCase());
    await worker.start();
    const client = new Client({ servers: [address], reconnect: false });
    open.push(client);
    return (await client.submit('upper', 'secret', { timeoutMs: 5000 }).result).toString();
  }

  it('count against maxConnections, give way to real clients, and are closed after the timeout', async () => {
    const lines: LogEntry[] = [];
    const { port, server } = await startServer({
      tls: { cert: certs.server.cert, key: certs.server.key, handshakeTimeoutMs: 1500 },
      maxConnections: 40,
      logger: recordingLogger(lines),
    });
    const started = Date.now();
    const flood = await silentSockets(port, 100);
    // The oldest 60 made way for the newest 40 at once, long before the timeout.
    await eventually(() => (flood.filter((s) => s.closedAt !== null).length >= 60 ? true : undefined), 1000);
    // A real client (a worker and a client: two connections) gets in during the flood.
    expect(await roundTrip(port)).toBe('SECRET');
    expect(server.connectionCount).toBe(2);
    // Every silent socket is gone after the timeout.
    await eventually(() => (flood.every((s) => s.closedAt !== null) ? true : undefined), 5000);
    expect(Math.max(...flood.map((s) => s.closedAt as number)) - started).toBeLessThan(1500 + 2000);
    // A burst is a few lines, not one per socket.
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings.length).toBeLessThanOrEqual(6);
    expect(warnings.map((line) => line.msg)).toContain(
      'closing the oldest pending TLS handshake: maxConnections reached',
    );
  });

  it('are refused once every connection is established', async () => {
    const { port, server } = await startServer({
      tls: { cert: certs.server.cert, key: certs.server.key },
      maxConnections: 2,
    });
    expect(await roundTrip(port)).toBe('SECRET');
    const [late] = await silentSockets(port, 1);
    await eventually(() => (late?.closedAt !== null ? true : undefined), 2000);
    expect(server.connectionCount).toBe(2);
  });
});
