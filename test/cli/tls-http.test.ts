import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { GearmanServer } from '../../src/server/server.js';
import { Worker } from '../../src/worker/worker.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { describeWithPeers, killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { waitForLine } from '../server/helpers/conformance.js';
import { curl } from '../server/helpers/curl.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

/** Runs `gworker ARGV` in-process. */
const run = (...argv: string[]) => runCliCaptured(argv);

let certs: TestCerts;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((item) => item.close()));
  await killAll();
});

/** `gworker server --port 0 ARGS`; resolves with its ports once it printed them. */
async function startCli(...args: string[]): Promise<{ child: ChildProcess; port: number; httpUrl: string }> {
  const child = spawnTracked(
    process.execPath,
    [bin, 'server', '--port', '0', '--log-level', 'warn', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Both waits start now: the two lines may come in one chunk.
  const gatewayLine = args.includes('--http-port')
    ? waitForLine(child, /^gworker server HTTP gateway on /, 20_000)
    : Promise.resolve('');
  const line = await waitForLine(child, /^gworker server listening on /, 20_000);
  const port = Number(/:(\d+)$/.exec(line)?.[1]);
  const httpUrl = (await gatewayLine).split(' ').pop() ?? '';
  return { child, port, httpUrl };
}

function tlsWorker(port: number, tls: { ca: string; cert?: string; key?: string }): Promise<void> {
  const worker = new Worker({ servers: [{ host: '127.0.0.1', port, tls }] });
  open.push({ close: () => worker.close({ force: true }) });
  worker.register('upper', (job) => job.payload.toString().toUpperCase());
  return worker.start();
}

describeWithPeers(
  ['openssl', 'curl'],
  'gworker server, submit and admin with TLS and the HTTP gateway',
  () => {
    beforeAll(async () => {
      certs = await makeTestCerts();
    });
    afterAll(async () => {
      await certs?.cleanup();
    });

    it('serves TLS and HTTPS from --tls-cert/--tls-key, used by gworker submit and gworker admin', async () => {
      const { port, httpUrl } = await startCli(
        '--tls-cert',
        certs.server.certFile,
        '--tls-key',
        certs.server.keyFile,
        '--http-port',
        '0',
      );
      expect(httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      await tlsWorker(port, { ca: certs.ca.cert });
      const server = `127.0.0.1:${port}`;

      const submitted = await run(
        'submit',
        '-f',
        'upper',
        '-s',
        server,
        '--tls-ca',
        certs.ca.certFile,
        'over tls',
      );
      expect(submitted).toEqual({ code: 0, stdout: 'OVER TLS', stderr: '' });
      const insecure = await run('submit', '-f', 'upper', '-s', server, '--tls-insecure', 'no checks');
      expect(insecure).toMatchObject({ code: 0, stdout: 'NO CHECKS' });
      // Plaintext against a TLS port, and TLS without trusting the server's CA, both fail cleanly.
      const plain = await run('submit', '-f', 'upper', '-s', server, '-t', '5s', 'x');
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/^gworker submit: /);
      const untrusted = await run('submit', '-f', 'upper', '-s', server, '--tls', '-t', '5s', 'x');
      expect(untrusted.code).toBe(1);

      const status = await run('admin', '-s', server, '--tls-ca', certs.ca.certFile, '--json', 'status');
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual([
        { function: 'upper', total: 0, running: 0, availableWorkers: 1 },
      ]);

      const viaHttp = await curl(['--cacert', certs.ca.certFile, '-d', 'over https', `${httpUrl}upper`]);
      expect([viaHttp.status, viaHttp.body.toString()]).toEqual([200, 'OVER HTTPS']);
    });

    it('requires client certificates with --tls-ca', async () => {
      const { port } = await startCli(
        '--tls-cert',
        certs.server.certFile,
        '--tls-key',
        certs.server.keyFile,
        '--tls-ca',
        certs.ca.certFile,
      );
      await tlsWorker(port, { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key });
      const server = `127.0.0.1:${port}`;
      const without = await run(
        'submit',
        '-f',
        'upper',
        '-s',
        server,
        '--tls-ca',
        certs.ca.certFile,
        '-t',
        '5s',
        'x',
      );
      expect(without.code).toBe(1);
      const withCert = await run(
        'submit',
        '-f',
        'upper',
        '-s',
        server,
        '--tls-ca',
        certs.ca.certFile,
        '--tls-cert',
        certs.client.certFile,
        '--tls-key',
        certs.client.keyFile,
        'signed',
      );
      expect(withCert).toEqual({ code: 0, stdout: 'SIGNED', stderr: '' });
      const admin = await run(
        'admin',
        '-s',
        server,
        '--tls-ca',
        certs.ca.certFile,
        '--tls-cert',
        certs.client.certFile,
        '--tls-key',
        certs.client.keyFile,
        'version',
      );
      expect(admin.code).toBe(0);
      expect(admin.stdout).toMatch(/\+gworker\n$/);
    });

    it('runs the HTTP gateway from --http-port, on the --listen address', async () => {
      const { httpUrl, port } = await startCli('--http-port', '0');
      expect(httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const worker = new Worker({ servers: [`127.0.0.1:${port}`] });
      open.push({ close: () => worker.close({ force: true }) });
      worker.register('upper', (job) => job.payload.toString().toUpperCase());
      await worker.start();
      const res = await curl(['-d', 'plain http', `${httpUrl}upper`]);
      expect([res.status, res.body.toString()]).toEqual([200, 'PLAIN HTTP']);
    });

    it('refuses TLS and HTTP flags that cannot work, with exit status 2', async () => {
      for (const argv of [
        ['server', '--tls-cert', certs.server.certFile],
        ['server', '--tls-key', certs.server.keyFile],
        ['server', '--tls-ca', certs.ca.certFile],
        ['server', '--tls-cert', certs.server.certFile, '--tls-key', certs.client.keyFile],
        ['server', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', certs.server.keyFile],
        ['server', '--http-port', 'eighty'],
        ['server', '--http-host', '127.0.0.1'],
        ['server', '--http-port', '0', '--http-max-body', '-1'],
        ['submit', '-f', 'x', '--tls-cert', certs.client.certFile, 'p'],
        ['admin', '--tls-ca', '/nonexistent/ca.pem', 'status'],
      ]) {
        const { code, stderr } = await run(...argv);
        expect({ argv, code }).toEqual({ argv, code: 2 });
        expect(stderr).not.toBe('');
      }
    });

    it('exits 1 when the HTTP port is taken', async () => {
      const holder = new GearmanServer({ port: 0, httpPort: 0 });
      open.push(holder);
      await holder.listen();
      const { code, stderr } = await run(
        'server',
        '--port',
        '0',
        '--http-port',
        String(holder.httpAddress?.port),
      );
      expect(code).toBe(1);
      expect(stderr).toMatch(/cannot listen/);
    });
  },
);
