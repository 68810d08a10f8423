import { integerOption } from '../option-checks.js';

/** The HTTP gateway's part of GearmanServerOptions. */
export interface HttpGatewayOptions {
  /**
   * Serve the HTTP gateway on this TCP port (0 picks a free one; see
   * `GearmanServer.httpAddress`). Without it there is no gateway.
   */
  readonly httpPort?: number;
  /** Address the gateway listens on. @defaultValue the server's `host` (loopback unless told otherwise) */
  readonly httpHost?: string;
  /** Largest request body (the workload) accepted; a bigger one gets 413. @defaultValue the server's maxFrameSize */
  readonly httpMaxBodySize?: number;
  /** A client must send its request headers within this long. @defaultValue 10000 */
  readonly httpHeadersTimeoutMs?: number;
  /** A client must send its whole request (headers and body) within this long. @defaultValue 120000 */
  readonly httpRequestTimeoutMs?: number;
  /**
   * Serve clients that are not on loopback, and requests whose `Host` is not a loopback
   * name. Off, the gateway answers them 403: it has no authentication, and a loopback
   * service must not be reachable through DNS rebinding. @defaultValue false
   */
  readonly httpAllowRemote?: boolean;
}

export interface ResolvedHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodySize: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly allowRemote: boolean;
  /** Connections at most (the server's maxConnections, counted apart). */
  readonly maxConnections: number;
}

/** Checks the gateway's options up front; null when there is no gateway (no `httpPort`). */
export function resolveHttpOptions(
  options: HttpGatewayOptions,
  server: { readonly host: string; readonly maxFrameSize: number; readonly maxConnections: number },
): ResolvedHttpOptions | null {
  if (options.httpPort === undefined) return null;
  const host = options.httpHost ?? server.host;
  if (typeof host !== 'string' || host === '') throw new TypeError('httpHost must be a non-empty string');
  const headersTimeoutMs = integerOption(
    'httpHeadersTimeoutMs',
    options.httpHeadersTimeoutMs,
    10_000,
    1,
    3_600_000,
  );
  const requestTimeoutMs = integerOption(
    'httpRequestTimeoutMs',
    options.httpRequestTimeoutMs,
    Math.max(120_000, headersTimeoutMs),
    1,
    86_400_000,
  );
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new RangeError('httpRequestTimeoutMs must not be shorter than httpHeadersTimeoutMs');
  }
  return {
    host,
    port: integerOption('httpPort', options.httpPort, 0, 0, 65535),
    maxBodySize: integerOption(
      'httpMaxBodySize',
      options.httpMaxBodySize,
      server.maxFrameSize,
      0,
      0xffffffff,
    ),
    headersTimeoutMs,
    requestTimeoutMs,
    allowRemote: options.httpAllowRemote ?? false,
    maxConnections: server.maxConnections,
  };
}
