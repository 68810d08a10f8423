import net from 'node:net';
import type { Peer } from './processes.js';

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether 127.0.0.1:port accepts a connection now (closed again at once). */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; fails when the process exits or time runs out. */
export async function waitForPort(port: number, timeoutMs: number, owner: Peer): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAccepts(port)) return;
    if (owner.exited) throw new Error(`${owner.label} exited before listening on port ${port}`);
    if (Date.now() > deadline)
      throw new Error(`${owner.label} is not listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
