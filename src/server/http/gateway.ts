import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../../log.js';
import type { ServerAddress } from '../../net/address.js';
import type { FunctionEntry } from '../function-entry.js';
import type { Peer } from '../peer.js';
import { SubmitRecord } from '../submit-record.js';
import { handleHandshakeFailures } from '../tls.js';
import { declaredTooLarge, readBody } from './body.js';
import { refusalReason } from './guard.js';
import { HttpJobPeer } from './job-peer.js';
import { JobResponse } from './job-response.js';
import type { ResolvedHttpOptions } from './options.js';
import { functionFromTarget, HttpRequestError, type JobHeaders, parseJobHeaders } from './request.js';

/** What the gateway needs from the job engine: it submits and lets go as a binary client does. */
export interface GatewayEngine {
  functionNamed(name: Buffer): FunctionEntry;
  submit(peer: Peer, submit: SubmitRecord): void;
  disconnect(peer: Peer): void;
  readonly jobCount: number;
  readonly runningCount: number;
}

export interface GatewayDeps {
  readonly engine: GatewayEngine;
  /** Serve HTTPS with the server's certificate (and client-certificate rule); null for HTTP. */
  readonly tls: tls.TlsOptions | null;
  /** The server's version, e.g. `0.1.0+gworker`. */
  readonly version: string;
  /** A client that leaves more than this unread is dropped. */
  readonly maxOutputBytes: number;
  readonly logger: Logger;
}

const kJobMethods = new Set(['POST', 'PUT', 'GET']);
/** After close() answered the waiting requests, how long their answers get to reach them. */
const kCloseGraceMs = 1000;

/**
 * The HTTP gateway (gearmand's `-r http` plugin, streaming and status codes added):
 * `POST /FUNCTION` with the workload as the body submits a job, as a client connection
 * of the job engine (no loopback TCP client in between), and answers with its result.
 * See JobResponse for the status codes, and the server README for the table.
 */
export class HttpGateway {
  readonly #options: ResolvedHttpOptions;
  readonly #deps: GatewayDeps;
  readonly #log: Logger;
  readonly #server: http.Server;
  readonly #serverName: string;
  /** Requests waiting for their job, and the peer each one is to the engine. */
  readonly #pending = new Map<JobResponse, HttpJobPeer>();
  /** The record every request's submit is read into (engine.submit reads it and keeps none of it). */
  readonly #submitRecord = new SubmitRecord();
  #nextPeerId = 1;
  #address: ServerAddress | null = null;
  #stopping = false;
  #serverClosed: Promise<void> | null = null;

  constructor(options: ResolvedHttpOptions, deps: GatewayDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'http-gateway' });
    this.#serverName = `Gearman/${deps.version}`;
    const serverOptions: http.ServerOptions = {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      // Node checks those two timeouts on this period (30 s by default, coarser than the limits).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(options.headersTimeoutMs / 4))),
      noDelay: true,
      keepAlive: true,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.#serve(req, res, false);
    this.#server =
      deps.tls === null
        ? http.createServer(serverOptions, onRequest)
        : https.createServer({ ...deps.tls, ...serverOptions }, onRequest);
    if (deps.tls !== null) handleHandshakeFailures(this.#server as https.Server, this.#log);
    this.#server.maxConnections = options.maxConnections;
    // Decide on `Expect: 100-continue` ourselves: a refused request never gets to send its body.
    this.#server.on('checkContinue', (req, res) => this.#serve(req, res, true));
  }

  /** Where the gateway listens, once listen() resolved; null before and after. */
  get address(): ServerAddress | null {
    return this.#address;
  }

  /** Requests waiting for their job to end. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  async listen(): Promise<ServerAddress> {
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#log.error({ err }, 'HTTP listener error'));
    const info = server.address() as net.AddressInfo;
    this.#address = { host: info.address, port: info.port };
    this.#log.info(
      { host: info.address, port: info.port, tls: this.#deps.tls !== null },
      'HTTP gateway listening',
    );
    return this.#address;
  }

  /**
   * Graceful shutdown starts: no new connections; requests that arrive on open ones get
   * 503; requests waiting for a running job keep waiting.
   */
  stopAccepting(): void {
    if (this.#serverClosed !== null) return;
    this.#stopping = true;
    this.#serverClosed = new Promise((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
  }

  /** Answers every request still waiting 503 (or cuts a streamed one short), then closes. */
  async close(): Promise<void> {
    this.stopAccepting();
    for (const response of [...this.#pending.keys()]) response.shutdown();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#serverClosed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, kCloseGraceMs);
      }),
    ]);
    clearTimeout(timer);
    this.#server.closeAllConnections();
    await this.#serverClosed;
    this.#address = null;
  }

  /** A bug must cost one request (500, or a cut response), never the process. */
  #serve(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    this.#onRequest(req, res, expectsContinue).catch((err: unknown) => {
      this.#log.error({ err, method: req.method, url: req.url }, 'failed to handle an HTTP request');
      if (res.headersSent) res.destroy();
      else this.#refuse(req, res, 500, 'internal server error');
    });
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    if (this.#log.isLevelEnabled?.('debug')) this.#logWhenDone(req, res);
    const refusal = refusalReason(req, this.#options.allowRemote);
    if (refusal !== null) return this.#refuse(req, res, 403, refusal);
    if (this.#stopping) return this.#refuse(req, res, 503, 'the server is shutting down');
    let fn: Buffer | null;
    let headers: JobHeaders;
    let data: Buffer;
    try {
      fn = functionFromTarget(req.url);
      if (fn === null) return this.#health(req, res);
      if (!kJobMethods.has(req.method ?? '')) {
        return this.#refuse(req, res, 405, 'use POST, PUT or GET /FUNCTION', { Allow: 'POST, PUT, GET' });
      }
      headers = parseJobHeaders(req.headers);
      if (declaredTooLarge(req, this.#options.maxBodySize) !== null) {
        throw new HttpRequestError(413, `the body is over ${this.#options.maxBodySize} bytes`);
      }
      if (expectsContinue) res.writeContinue();
      data = await readBody(req, this.#options.maxBodySize);
    } catch (err) {
      if (err instanceof HttpRequestError) return this.#refuse(req, res, err.status, err.message);
      return; // the client left while sending its body: nobody to answer
    }
    if (this.#stopping) return this.#refuse(req, res, 503, 'the server is shutting down');
    if (res.destroyed) return;
    this.#submit(req, res, fn, headers, data);
  }

  #submit(req: IncomingMessage, res: ServerResponse, fn: Buffer, headers: JobHeaders, data: Buffer): void {
    let peer: HttpJobPeer | null = null;
    const response = new JobResponse(req, res, {
      background: headers.background,
      timeoutMs: headers.timeoutMs,
      maxOutputBytes: this.#deps.maxOutputBytes,
      serverName: this.#serverName,
      log: this.#log,
      onDone: (done, detach) => {
        this.#pending.delete(done);
        // Never from inside the engine's own call (a reply is sent from within it): the
        // job is let go of once the engine is done with the frame that ended this response.
        const left = peer;
        if (detach && left !== null && left.waiting.size > 0) {
          queueMicrotask(() => this.#deps.engine.disconnect(left));
        }
      },
    });
    peer = new HttpJobPeer(this.#nextPeerId++, response);
    this.#pending.set(response, peer);
    const record = this.#submitRecord.reset(this.#deps.engine.functionNamed(fn));
    record.unique = headers.unique;
    record.setData(data);
    record.priority = headers.priority;
    record.background = headers.background;
    this.#deps.engine.submit(peer, record);
  }

  /** `GET /` or `HEAD /`: a small answer for health checks and load balancers. */
  #health(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#refuse(req, res, 405, 'use GET or HEAD / (health), or POST /FUNCTION', {
        Allow: 'GET, HEAD',
      });
      return;
    }
    const engine = this.#deps.engine;
    const body = `${JSON.stringify({
      status: this.#stopping ? 'shutting down' : 'ok',
      version: this.#deps.version,
      jobs: engine.jobCount,
      running: engine.runningCount,
    })}\n`;
    res.writeHead(this.#stopping ? 503 : 200, {
      Server: this.#serverName,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  /**
   * A short text answer to a request that submits nothing. A body left unread closes the
   * connection after the answer: reading a refused (perhaps huge) body just to keep the
   * connection alive would cost more than a new connection.
   */
  #refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    message: string,
    extra: http.OutgoingHttpHeaders = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const body = `${message}\n`;
    const headers: http.OutgoingHttpHeaders = {
      ...extra,
      Server: this.#serverName,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    };
    if (hasUnreadBody(req) || this.#stopping) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
    req.resume();
  }

  #logWhenDone(req: IncomingMessage, res: ServerResponse): void {
    const started = Date.now();
    res.once('close', () => {
      this.#log.debug(
        {
          method: req.method,
          url: req.url,
          status: res.headersSent ? res.statusCode : null,
          finished: res.writableFinished,
          ms: Date.now() - started,
        },
        'HTTP request',
      );
    });
  }
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
