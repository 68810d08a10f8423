import http from 'node:http';
import { afterEach } from 'vitest';
import type { GearmanServerOptions } from '../../../src/server/options.js';
import { Worker } from '../../../src/worker/worker.js';
import { killAll } from '../../helpers/peers.js';
import { startServer } from './own-server.js';

/** Closed after each test: workers, clients, admin clients. */
export const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await killAll();
  await Promise.all(open.splice(0).map((item) => item.close()));
});

/** gworker's server with the gateway on a free port; `url(path)` addresses the gateway. */
export async function gateway(options: GearmanServerOptions = {}) {
  const { server, port } = await startServer({ httpPort: 0, ...options });
  const httpPort = server.httpAddress?.port as number;
  return { server, port, httpPort, url: (path: string) => `http://127.0.0.1:${httpPort}${path}` };
}

/** A Worker on the server's binary port, closed after the test. */
export function worker(port: number, options: ConstructorParameters<typeof Worker>[0] = {}): Worker {
  const w = new Worker({ servers: [`127.0.0.1:${port}`], ...options });
  open.push({ close: () => w.close({ force: true }) });
  return w;
}

/** A promise and its resolve, for handlers the test holds until it says so. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A plain node:http request: status, headers, body, trailers. */
export function request(
  url: string,
  options: http.RequestOptions & { body?: string } = {},
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers: NodeJS.Dict<string>;
}> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
