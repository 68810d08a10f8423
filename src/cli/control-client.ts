import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ControlError } from '../supervisor/control/control-error.js';
import {
  type ControlListen,
  formatControlAddress,
  parseControlAddress,
} from '../supervisor/control/listen-address.js';
import { DEFAULT_CONTROL } from '../supervisor/manifest/control.js';
import { loadManifest } from '../supervisor/manifest/load.js';
import type { OptionSpecs } from './args/option-spec.js';
import type { CliIo } from './io.js';

/** How every control command finds the supervisor and authenticates (with its --timeout: controlOptions). */
export const kControlAddressOptions = {
  config: {
    type: 'string',
    short: 'c',
    value: 'FILE',
    help: 'the manifest of the running supervisor (default gworker.yaml): its "control" setting says where the control API listens, and its token; the supervisor that answers must be running this manifest',
  },
  control: {
    type: 'string',
    value: 'ADDR',
    parse: (text: string) => parseControlAddress(text),
    help: 'the control API instead: host:port, a port on 127.0.0.1, or a Unix socket path (default 127.0.0.1:4731 when there is no manifest)',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: "the control token (default $GWORKER_CONTROL_TOKEN, else the manifest's)",
  },
} as const satisfies OptionSpecs;

/**
 * The options every control command takes; `timeoutMs` is the command's own default
 * for --timeout (a reload or a scale waits for threads to start).
 */
export function controlOptions(timeoutMs: number) {
  return {
    ...kControlAddressOptions,
    timeout: { type: 'duration', default: timeoutMs, help: 'give up on a request after this long' },
  } as const satisfies OptionSpecs;
}

/** `[-c FILE | --control ADDR] [--token TOKEN]`, for the usage lines. */
export const kControlSynopsis = '[-c FILE | --control ADDR] [--token TOKEN]';

/** Where the supervisor's control API is, and how to authenticate. */
export interface ControlTarget {
  readonly address: ControlListen;
  readonly token?: string;
}

interface ControlValues {
  readonly config?: string | undefined;
  readonly control?: ControlListen | undefined;
  readonly token?: string | undefined;
}

/**
 * Finds the control API: `--control ADDR`, else the manifest's `control` setting (`-c`,
 * default gworker.yaml), else the default 127.0.0.1:4731 when no gworker.yaml exists.
 * Throws ControlError when the manifest turns the API off
 * or lets it pick its port, and ManifestError for an invalid manifest.
 */
export async function resolveControlTarget(values: ControlValues, io: CliIo): Promise<ControlTarget> {
  let address: ControlListen | null | undefined = values.control;
  let token = values.token ?? (io.env.GWORKER_CONTROL_TOKEN || undefined);
  const file = values.config ?? 'gworker.yaml';
  if (values.config !== undefined || (address === undefined && existsSync(file))) {
    const manifest = await loadManifest(file, { env: io.env });
    token ??= manifest.control.token;
    if (address === undefined) {
      address = manifest.control.listen;
      if (address === null) {
        throw new ControlError(
          0,
          'disabled',
          `${path.resolve(file)} turns the control API off (control: false)`,
        );
      }
      if (address.kind === 'tcp' && address.port === 0) {
        throw new ControlError(
          0,
          'no_port',
          `${path.resolve(file)} lets the control API pick a free port: pass --control with the address "gworker start" logged`,
        );
      }
    }
  }
  return {
    address: address ?? (DEFAULT_CONTROL.listen as ControlListen),
    ...(token === undefined ? {} : { token }),
  };
}

/** An HTTP client for one supervisor's control API. */
export class ControlClient {
  readonly target: ControlTarget;
  readonly #timeoutMs: number;

  constructor(target: ControlTarget, options: { timeoutMs?: number } = {}) {
    this.target = target;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The address, for messages. */
  get where(): string {
    return formatControlAddress(this.target.address);
  }

  /** GET, answering the parsed JSON; a refusal throws ControlError. */
  async get<T>(pathname: string): Promise<T> {
    return ok<T>(await this.request('GET', pathname));
  }

  /** POST with a JSON body, answering the parsed JSON; a refusal throws ControlError. */
  async post<T>(pathname: string, body: unknown = {}): Promise<T> {
    return ok<T>(await this.request('POST', pathname, body));
  }

  /** One request; answers any HTTP status. Throws ControlError only when nothing answered. */
  request(
    method: 'GET' | 'POST',
    pathname: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const address = this.target.address;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      // A Unix socket has no host name; loopback is what the server's Host check expects.
      host: address.kind === 'unix' ? 'localhost' : formatControlAddress(address),
      accept: 'application/json',
    };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.target.token !== undefined) headers.authorization = `Bearer ${this.target.token}`;
    const where =
      address.kind === 'unix' ? { socketPath: address.path } : { host: address.host, port: address.port };
    return new Promise((resolve, reject) => {
      // No keep-alive agent: a pooled socket would hold a finished CLI process open.
      const options = { ...where, method, path: pathname, headers, timeout: this.#timeoutMs, agent: false };
      const req = http.request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (/json/.test(res.headers['content-type'] ?? '')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              reject(
                new ControlError(res.statusCode ?? 0, 'bad_reply', `${this.where} answered malformed JSON`),
              );
              return;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('timeout', () => {
        req.destroy(
          new ControlError(0, 'timeout', `${this.where} did not answer within ${this.#timeoutMs} ms`),
        );
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof ControlError) reject(err);
        else
          reject(
            new ControlError(
              0,
              'unreachable',
              `no supervisor answers on ${this.where}: ${err.code ?? err.message}`,
              { cause: err },
            ),
          );
      });
      req.end(payload);
    });
  }
}

function ok<T>(reply: { status: number; body: unknown }): T {
  if (reply.status >= 200 && reply.status < 300) return reply.body as T;
  const error = (reply.body as { error?: { code?: string; message?: string } } | null)?.error;
  throw new ControlError(reply.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${reply.status}`);
}
