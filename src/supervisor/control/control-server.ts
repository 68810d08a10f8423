import { chmodSync, existsSync, statSync, unlinkSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { type Logger, silentLogger } from '../../log.js';
import type { Supervisor } from '../supervisor.js';
import { type AccessPolicy, checkAccess, isTrustedCaller } from './access.js';
import { ControlApi, type ControlApiOptions } from './control-api.js';
import { DashboardFiles } from './dashboard-files.js';
import { ApiError, sendError } from './http-io.js';
import { type ControlListen, formatControlAddress, isLoopback } from './listen-address.js';
import { findRoute, kProbePaths } from './routes.js';

export interface ControlServerOptions extends ControlApiOptions {
  /** Where to listen: a TCP host and port (0 picks a free one) or a Unix socket path. */
  readonly listen: ControlListen;
  /** Bearer token every API request must carry. Required when `allowRemote` is set. */
  readonly token?: string;
  /**
   * Answer peers on other hosts too. Off, only this machine's peers are answered,
   * whatever the address listened on. @defaultValue true for a non-loopback address, else false
   */
  readonly allowRemote?: boolean;
  readonly logger?: Logger;
  /** The dashboard's folder (tests). @defaultValue the files shipped beside this module */
  readonly dashboardDir?: string;
}

/**
 * The supervisor's control API over HTTP: JSON status and commands under /api, Prometheus
 * metrics at /metrics, and the dashboard at /. Nothing in it listens beyond loopback
 * unless told to, and then only with a token.
 *
 * @example
 * ```ts
 * const control = new ControlServer(supervisor, { listen: { kind: 'tcp', host: '127.0.0.1', port: 4731 } });
 * await control.listen();
 * // ... curl http://127.0.0.1:4731/api/status
 * await control.close();
 * ```
 */
export class ControlServer {
  readonly api: ControlApi;
  readonly #options: ControlServerOptions;
  readonly #policy: AccessPolicy;
  readonly #files: DashboardFiles;
  readonly #log: Logger;
  readonly #server: http.Server;
  #address: ControlListen | null = null;
  #closing: Promise<void> | null = null;

  /** Throws a TypeError when other hosts would be answered without a token. */
  constructor(supervisor: Supervisor, options: ControlServerOptions) {
    const remote = options.allowRemote ?? (options.listen.kind === 'tcp' && !isLoopback(options.listen.host));
    if (remote && options.token === undefined) {
      throw new TypeError('a control API that answers other hosts needs a token');
    }
    this.#options = options;
    this.#policy = { allowRemote: remote, ...(options.token === undefined ? {} : { token: options.token }) };
    this.#files = new DashboardFiles(options.dashboardDir);
    this.#log = (options.logger ?? silentLogger).child({ component: 'control' });
    this.api = new ControlApi(supervisor, options);
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: Error) => this.#log.error({ err }, 'control request failed'));
    });
    // Slow or idle clients must not pin sockets forever.
    this.#server.requestTimeout = 30_000;
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Where it listens, with the port a `0` picked; null before listen(). */
  get address(): ControlListen | null {
    return this.#address;
  }

  /** The base URL for people and logs: `http://127.0.0.1:4731/`, or the socket path. */
  get url(): string {
    const address = this.#address ?? this.#options.listen;
    return address.kind === 'unix' ? `unix:${address.path}` : `http://${formatControlAddress(address)}/`;
  }

  /** Starts listening; rejects (EADDRINUSE, EACCES, ...) when the address cannot be bound. */
  async listen(): Promise<ControlListen> {
    const listen = this.#options.listen;
    if (listen.kind === 'unix') await removeStaleSocket(listen.path);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      const done = () => {
        this.#server.off('error', onError);
        resolve();
      };
      if (listen.kind === 'unix') this.#server.listen(listen.path, done);
      else this.#server.listen(listen.port, listen.host, done);
    });
    this.#server.on('error', (err) => this.#log.error({ err }, 'control server error'));
    if (listen.kind === 'unix') {
      // Whoever can open the socket can stop the box: the owner only.
      chmodSync(listen.path, 0o600);
      this.#address = listen;
    } else {
      const { port } = this.#server.address() as net.AddressInfo;
      this.#address = { kind: 'tcp', host: listen.host, port };
    }
    this.#log.info({ url: this.url, token: this.#policy.token !== undefined }, `control API on ${this.url}`);
    return this.#address;
  }

  /** Stops listening, ends open connections, stops following the supervisor. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#server.listening) {
        const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
        this.#server.closeAllConnections();
        await closed;
      }
      await this.api.close();
    })();
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let pathname = '/';
    try {
      pathname = new URL(req.url ?? '/', 'http://control').pathname;
      const isFile = method === 'GET' && this.#files.has(pathname);
      // The dashboard's files hold no data: the page asks for the token, then the API checks it.
      // The probes tell untrusted callers only a status (routes.ts): a kubelet has no token.
      checkAccess(req, this.#policy, !isFile && !kProbePaths.has(pathname));
      if (isFile) {
        this.#sendFile(res, pathname);
        return;
      }
      const { route, params } = findRoute(method, pathname);
      const caller = { trusted: isTrustedCaller(req, this.#policy) };
      await route.handle(this.api, req, res, params, new URL(req.url ?? '/', 'http://control'), caller);
      this.#log.debug({ method, path: pathname, status: res.statusCode }, 'control request');
    } catch (err) {
      const error =
        err instanceof ApiError
          ? err
          : new ApiError(500, 'internal', `internal error: ${(err as Error).message}`);
      if (error.status >= 500) this.#log.error({ err, method, path: pathname }, 'control request failed');
      else
        this.#log.debug(
          { method, path: pathname, status: error.status, code: error.code },
          'control request refused',
        );
      if (!res.headersSent) sendError(res, error);
      else res.destroy();
    }
  }

  #sendFile(res: ServerResponse, pathname: string): void {
    const file = this.#files.get(pathname);
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    });
    res.end(file.body);
  }
}

/**
 * A socket file left by a supervisor that crashed would make listen fail with
 * EADDRINUSE: remove it, but only when nothing answers on it.
 */
async function removeStaleSocket(file: string): Promise<void> {
  if (!existsSync(file)) return;
  if (!statSync(file).isSocket()) {
    throw Object.assign(new Error(`${file} exists and is not a socket`), { code: 'EEXIST' });
  }
  const alive = await new Promise<boolean>((resolve) => {
    const socket = net.connect(file);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (alive) {
    throw Object.assign(new Error(`another process listens on ${file}`), { code: 'EADDRINUSE' });
  }
  unlinkSync(file);
}
