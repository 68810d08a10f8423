import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import { type Logger, silentLogger } from '../../log.js';
import type { ServerAddress } from '../../net/address.js';

/** What the endpoint serves: anything that renders Prometheus text (ServerMetrics, SupervisorMetrics). */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface MetricsEndpointOptions {
  /** TCP port; 0 picks a free one (see the address listen() returns). */
  readonly port: number;
  /**
   * Address to listen on. Loopback unless told otherwise: the metrics name every
   * function and count every client, which is no business of other hosts by default.
   * @defaultValue '127.0.0.1'
   */
  readonly host?: string;
  readonly logger?: Logger;
}

/**
 * A small HTTP listener for Prometheus: `GET /metrics` answers the text format, `GET /`
 * a pointer to it; other paths 404, other methods 405. It never touches the job
 * server's port or its event handling beyond reading numbers once per scrape.
 *
 * @example
 * ```ts
 * const endpoint = new MetricsEndpoint(new ServerMetrics(server), { port: 9464 });
 * await endpoint.listen(); // curl http://127.0.0.1:9464/metrics
 * ```
 */
export class MetricsEndpoint {
  readonly #source: MetricsSource;
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #server: http.Server;
  #address: ServerAddress | null = null;
  #closing: Promise<void> | null = null;

  constructor(source: MetricsSource, options: MetricsEndpointOptions) {
    const { port } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
    }
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw new TypeError('host must be a non-empty string');
    this.#source = source;
    this.#host = host;
    this.#port = port;
    this.#log = (options.logger ?? silentLogger).child({ component: 'metrics' });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error({ err }, 'metrics request failed');
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    // A scraper that stalls must not pin sockets forever.
    this.#server.requestTimeout = 30_000;
    this.#server.headersTimeout = 10_000;
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Where it listens, with the port a `0` picked; null before listen() and after close(). */
  get address(): ServerAddress | null {
    return this.#address;
  }

  /** `http://host:port/metrics`, once listening. */
  get url(): string | null {
    const address = this.#address;
    if (address === null) return null;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `http://${host}:${address.port}/metrics`;
  }

  /** Starts listening; rejects (EADDRINUSE, EACCES, ...) when the address cannot be bound. */
  async listen(): Promise<ServerAddress> {
    if (this.#closing !== null) throw new Error('the metrics endpoint was closed');
    if (this.#address !== null) return this.#address;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#server.on('error', (err) => this.#log.error({ err }, 'metrics listener error'));
    const info = this.#server.address() as net.AddressInfo;
    this.#address = { host: info.address, port: info.port };
    this.#log.info({ url: this.url }, 'serving metrics');
    return this.#address;
  }

  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    }).then(() => {
      this.#address = null;
    });
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
      return;
    }
    if (pathname === '/metrics') {
      const text = await this.#source.text();
      send(res, 200, text, { 'content-type': this.#source.contentType }, method === 'HEAD');
    } else if (pathname === '/') {
      send(res, 200, 'gworker server metrics: GET /metrics\n', {}, method === 'HEAD');
    } else {
      send(res, 404, 'not found: the metrics are at /metrics\n');
    }
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  headOnly = false,
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(headOnly ? undefined : body);
}
