import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { GearmanServer } from '../../../src/server/server.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(async () => {
  await certs.cleanup();
});

it('dispatch: thread threads connect with the manifest’s TLS settings', async () => {
  const server = new GearmanServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: certs.server.cert, key: certs.server.key },
  });
  const { port } = await server.listen();
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-tls-'));
  writeFileSync(path.join(dir, 'up.mjs'), "export default (text) => 'tls:' + text;\n");
  const file = path.join(dir, 'gworker.yaml');
  const text = `servers:\n  - { host: 127.0.0.1, port: ${port}, tls: { ca: ${certs.ca.certFile} } }\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, concurrency: 2 }\n`;
  writeFileSync(file, text);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 300 });
  const client = new Client({ servers: [{ host: '127.0.0.1', port, tls: { ca: certs.ca.cert } }] });
  try {
    await supervisor.start();
    expect(String(await client.run('up', 'a'))).toBe('tls:a');
    expect(supervisor.functions()[0]?.connections).toEqual([
      expect.objectContaining({ up: 2, connected: true }),
    ]);
  } finally {
    await client.close();
    await supervisor.close({ force: true });
    await server.close();
  }
});
