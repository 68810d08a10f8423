import net from 'node:net';
import { PacketType, packetTypeName } from '../../../src/protocol/constants.js';
import { PacketDecoder } from '../../../src/protocol/decoder.js';
import { type Arg, encodeRequest } from '../../../src/protocol/encoder.js';
import type { Frame, Packet } from '../../../src/protocol/packet.js';

const kDefaultTimeoutMs = 5000;
const open = new Set<RawClient>();
let syncCounter = 0;

/** Closes every RawClient still open (call it in afterEach). */
export function closeAllRawClients(): void {
  for (const client of open) client.close();
}

/**
 * A bare socket to a job server that speaks frames, for asserting exact bytes: what
 * gearmand answers and what ours answers must be the same. Frames arrive in a queue;
 * next() takes the oldest or waits for one.
 */
export class RawClient {
  readonly #socket: net.Socket;
  readonly #frames: Frame[] = [];
  #waiter: (() => void) | null = null;
  #closed = false;
  #error: Error | null = null;
  readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new PacketDecoder((frame) => this.#push(frame), { expect: 'RES', allowText: true });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.#error = err as Error;
        this.#wake();
      }
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        open.delete(this);
        this.#wake();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    open.add(client);
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(type: PacketType, args: readonly Arg[] = []): this {
    this.#socket.write(encodeRequest(type, args));
    return this;
  }

  write(bytes: Buffer | string): this {
    this.#socket.write(bytes);
    return this;
  }

  /** The next frame, or an error after `timeoutMs` (or when the server closes first). */
  async nextFrame(timeoutMs = kDefaultTimeoutMs): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#error !== null) throw this.#error;
      if (this.#closed) throw new Error('the server closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next binary packet; a text line in its place is an error. */
  async next(timeoutMs?: number): Promise<Packet> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame.kind !== 'packet')
      throw new Error(`expected a packet, got the line ${JSON.stringify(frame.line)}`);
    return frame.packet;
  }

  /** The next packet, which must be of `type`. */
  async expect(type: PacketType, timeoutMs?: number): Promise<Packet> {
    const packet = await this.next(timeoutMs);
    if (packet.type !== type) {
      throw new Error(`expected ${packetTypeName(type)}, got ${describe(packet)}`);
    }
    return packet;
  }

  /**
   * Round-trips an ECHO_REQ: once its ECHO_RES is back, the server has handled everything
   * sent before on this connection (gearmand handles a connection's packets in order,
   * but another connection's may overtake them). Other frames stay queued.
   */
  async sync(timeoutMs = kDefaultTimeoutMs): Promise<this> {
    const token = `sync-${++syncCounter}`;
    this.send(PacketType.ECHO_REQ, [token]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#frames.findIndex(
        (frame) =>
          frame.kind === 'packet' &&
          frame.packet.type === PacketType.ECHO_RES &&
          frame.packet.args[0]?.toString() === token,
      );
      if (index >= 0) {
        this.#frames.splice(index, 1);
        return this;
      }
      if (this.#closed || Date.now() > deadline) throw new Error('no ECHO_RES for sync()');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(deadline - Date.now(), 0));
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves with what arrived within `ms` (usually to assert that nothing did). */
  async quiet(ms = 200): Promise<string[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.#frames
      .splice(0)
      .map((frame) => (frame.kind === 'text' ? `TEXT ${frame.line}` : describe(frame.packet)));
  }

  /** Sends an admin command line and collects its reply: one line, or lines up to `.`. */
  async admin(line: string, shape: 'line' | 'list' = 'line', timeoutMs?: number): Promise<string[]> {
    this.#socket.write(`${line}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame.kind !== 'text') throw new Error(`expected a text line, got ${describe(frame.packet)}`);
      if (shape === 'line' || (lines.length === 0 && frame.line.startsWith('ERR'))) return [frame.line];
      if (frame.line === '.') return lines;
      lines.push(frame.line);
    }
  }

  /** Waits until the server closes the connection. */
  async waitClosed(timeoutMs = kDefaultTimeoutMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.#socket.destroy();
  }

  #push(frame: Frame): void {
    this.#frames.push(frame);
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }
}

/** `JOB_CREATED H:x:1` style, every NUL (separator or data) shown as `\0`, for messages and comparisons. */
export function describe(packet: Packet): string {
  const args = packet.args.map((arg) => arg.toString('latin1').replaceAll('\0', '\\0')).join('\\0');
  return args === '' ? packetTypeName(packet.type) : `${packetTypeName(packet.type)} ${args}`;
}

/** The packet's arguments as latin1 strings. */
export function texts(packet: Packet): string[] {
  return packet.args.map((arg) => arg.toString('latin1'));
}

/** Sends SUBMIT_JOB_BG; `created` when JOB_CREATED came back, else the reply's text (an ERROR's code and message). */
export async function submitBackground(
  client: RawClient,
  fn: string,
  unique: string,
  data: string,
): Promise<string> {
  client.send(PacketType.SUBMIT_JOB_BG, [fn, unique, data]);
  const packet = await client.next();
  return packet.type === PacketType.JOB_CREATED ? 'created' : texts(packet).join(' ');
}
