import type { Logger } from '../../log.js';
import { GearmanServer } from '../../server/server.js';
import type { Manifest } from '../../supervisor/manifest/types.js';

export interface EmbeddedServer {
  readonly address: { readonly host: string; readonly port: number };
  /** `host:port`, for log lines. */
  readonly name: string;
  close(): Promise<void>;
}

/**
 * The job server `gworker start` runs in-process when the manifest names none, so a
 * fresh machine runs end to end with nothing else installed.
 */
export async function startEmbeddedServer(
  manifest: Manifest,
  logger: Logger,
  logLevel: string,
): Promise<EmbeddedServer> {
  const { host, port } = manifest.embeddedServer;
  const server = new GearmanServer({ host, port, logger, logLevel });
  const address = await server.listen();
  return {
    address,
    name: `${address.host}:${address.port}`,
    // Graceful: the supervisor has already finished its jobs; clients get a clean close.
    close: () => server.close({ graceful: true }),
  };
}
