import { existsSync } from 'node:fs';
import http from 'node:http';
import { ControlError } from '../supervisor/control/control-error.js';
import {
  type ControlListen,
  formatControlAddress,
  parseControlAddress,
} from '../supervisor/control/listen-address.js';
import { manifestId } from '../supervisor/control/manifest-id.js';
import type { StatusDocument } from '../supervisor/control/status-document.js';
import { DEFAULT_CONTROL } from '../supervisor/manifest/control.js';
import { loadManifest } from '../supervisor/manifest/load.js';
import type { OptionSpecs } from './args/option-spec.js';
import type { CliIo } from './io.js';
import { findControlAddress, runFilePath } from './run-file.js';

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
  /**
   * The manifest the supervisor must be running (when it was found from one): checked
   * against the status document before the first request.
   */
  readonly manifest?: { readonly file: string; readonly id: string };
}

interface ControlValues {
  readonly config?: string | undefined;
  readonly control?: ControlListen | undefined;
  readonly token?: string | undefined;
}

/**
 * Finds the control API: `--control ADDR`, else the manifest's `control` setting (`-c`,
 * default gworker.yaml), else the default 127.0.0.1:4731 when no gworker.yaml exists.
 * When the manifest let the API pick its port, the address comes from the run file the
 * supervisor wrote (run-file.ts). Whenever a manifest is read, the target asks that the
 * supervisor answering runs it. Throws ControlError when the manifest turns the API off
 * or no supervisor of it left its address, and ManifestError for an invalid manifest.
 */
export async function resolveControlTarget(values: ControlValues, io: CliIo): Promise<ControlTarget> {
  let address: ControlListen | null | undefined = values.control;
  let token = values.token ?? (io.env.GWORKER_CONTROL_TOKEN || undefined);
  const file = values.config ?? 'gworker.yaml';
  let expected: ControlTarget['manifest'];
  if (values.config !== undefined || (address === undefined && existsSync(file))) {
    const manifest = await loadManifest(file, { env: io.env });
    expected = { file: manifest.file, id: manifestId(manifest.file) };
    token ??= manifest.control.token;
    if (address === undefined) address = manifestAddress(manifest.file, manifest.control.listen, io.env);
  }
  return {
    address: address ?? (DEFAULT_CONTROL.listen as ControlListen),
    ...(token === undefined ? {} : { token }),
    ...(expected === undefined ? {} : { manifest: expected }),
  };
}

/** Where the manifest says its supervisor's control API is (a picked port: from the run file). */
function manifestAddress(file: string, listen: ControlListen | null, env: NodeJS.ProcessEnv): ControlListen {
  if (listen === null) {
    throw new ControlError(0, 'disabled', `${file} turns the control API off (control: false)`);
  }
  if (listen.kind !== 'tcp' || listen.port !== 0) return listen;
  const found = findControlAddress(file, env);
  if (found === null) {
    throw new ControlError(
      0,
      'no_port',
      `no running supervisor of ${file} left its control address in ${runFilePath(file, env)} (its control API picks a free port): is it running? Else pass --control with the address "gworker start" logged`,
    );
  }
  return found;
}

/** An HTTP client for one supervisor's control API. */
export class ControlClient {
  readonly target: ControlTarget;
  readonly #timeoutMs: number;
  #verified = false;

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

  /**
   * One request; answers any HTTP status. Throws ControlError when nothing answered, and
   * before sending anything when the supervisor answering runs another manifest.
   */
  async request(
    method: 'GET' | 'POST',
    pathname: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    if (this.target.manifest !== undefined && !this.#verified) {
      const status = ok<StatusDocument>(await this.#send('GET', '/api/status?queues=0'));
      checkManifest(status, this.target.manifest, this.where);
      this.#verified = true;
    }
    return this.#send(method, pathname, body);
  }

  #send(
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

/**
 * Refuses a supervisor that runs another manifest than the one the command was given:
 * with two supervisors on a box, `-c other.yaml` must never steer the first one.
 */
function checkManifest(
  status: StatusDocument,
  expected: NonNullable<ControlTarget['manifest']>,
  where: string,
): void {
  // A supervisor from before the id was added is compared by path.
  const same =
    status.manifestId === undefined ? status.manifest === expected.file : status.manifestId === expected.id;
  if (same) return;
  throw new ControlError(
    0,
    'wrong_supervisor',
    `the supervisor on ${where} (pid ${status.pid}) runs ${status.manifest}, not ${expected.file}: refused; pass -c with its manifest, or --control with the address of the one you mean`,
  );
}

function ok<T>(reply: { status: number; body: unknown }): T {
  if (reply.status >= 200 && reply.status < 300) return reply.body as T;
  const error = (reply.body as { error?: { code?: string; message?: string } } | null)?.error;
  throw new ControlError(reply.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${reply.status}`);
}
