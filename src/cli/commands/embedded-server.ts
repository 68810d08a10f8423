import type { Logger } from '../../log.js';
import { GearmanServer } from '../../server/server.js';
import { openSqliteStore } from '../../server/sqlite-store.js';
import type { Manifest } from '../../supervisor/manifest/types.js';

export interface EmbeddedServer {
  readonly address: { readonly host: string; readonly port: number };
  /** `host:port`, for log lines. */
  readonly name: string;
  /** Where the HTTP gateway listens, when the manifest turned it on. */
  readonly http: string | null;
  close(): Promise<void>;
}

/**
 * The job server `gworker start` runs in-process when the manifest names none, so a
 * fresh machine runs end to end with nothing else installed. Throws (JobStoreError, a
 * listen error) when it cannot start; the caller reports it and exits.
 */
export async function startEmbeddedServer(
  manifest: Manifest,
  logger: Logger,
  logLevel: string,
): Promise<EmbeddedServer> {
  const { host, port, store, httpPort, resultCacheMs, maxRunning } = manifest.embeddedServer;
  const server = new GearmanServer({
    host,
    port,
    logger,
    logLevel,
    ...(store === undefined ? {} : { store: openSqliteStore(store) }),
    ...(httpPort === undefined ? {} : { httpPort }),
    ...(resultCacheMs === undefined ? {} : { resultCache: { ttlMs: resultCacheMs } }),
    ...(maxRunning === undefined ? {} : { maxRunning }),
  });
  const address = await server.listen();
  const http = server.httpAddress;
  return {
    address,
    name: `${address.host}:${address.port}`,
    http: http === null ? null : `http://${http.host}:${http.port}/`,
    // Graceful: the supervisor has already finished its jobs; clients get a clean close.
    close: () => server.close({ graceful: true }),
  };
}
