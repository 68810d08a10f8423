import { afterEach } from 'vitest';
import type { GearmanServerOptions } from '../../../src/server/options.js';
import { GearmanServer } from '../../../src/server/server.js';
import { closeAllRawClients } from './raw-client.js';

const servers: GearmanServer[] = [];

/**
 * Starts gworker's server in-process on a free port with handles `H:t:<n>`; every server
 * and raw client a test opened is closed after it.
 */
export async function startServer(
  options: GearmanServerOptions = {},
): Promise<{ server: GearmanServer; port: number }> {
  const server = new GearmanServer({ port: 0, jobHandlePrefix: 'H:t', ...options });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port };
}

afterEach(async () => {
  closeAllRawClients();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
