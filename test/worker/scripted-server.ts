import net from 'node:net';
import { expect } from 'vitest';
import { PacketType, packetTypeName } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { encodeResponse } from '../../src/protocol/encoder.js';
import type { WorkerOptions } from '../../src/worker/options.js';
import { sleep, trackedWorker, waitFor } from './helpers.js';

export interface Received {
  /** Packet type name, e.g. GRAB_JOB_ALL. */
  type: string;
  args: string[];
  /** Which socket read delivered it: equal numbers arrived in one write. */
  chunk: number;
  /** Which connection it came on (1 for the first). */
  connection: number;
}

/**
 * A scripted job server: records every request from the worker (with the read it came
 * in) and sends whatever the test tells it to. It never answers on its own.
 */
export class ScriptedServer {
  /** What arrived since the test last cleared it. */
  readonly received: Received[] = [];
  /** Everything that arrived, over every connection, never cleared. */
  readonly log: Received[] = [];
  /** Connections accepted so far. */
  connections = 0;
  #server: net.Server;
  #socket: net.Socket | null = null;
  #chunks = 0;

  private constructor(server: net.Server) {
    this.#server = server;
    server.on('connection', (socket) => {
      this.#socket = socket;
      const connection = ++this.connections;
      const decoder = new PacketDecoder(
        (frame) => {
          if (frame.kind !== 'packet') return;
          const received = {
            type: packetTypeName(frame.packet.type),
            args: frame.packet.args.map((arg) => arg.toString('latin1')),
            chunk: this.#chunks,
            connection,
          };
          this.received.push(received);
          this.log.push(received);
        },
        { expect: 'REQ' },
      );
      socket.on('data', (chunk: Buffer) => {
        this.#chunks++;
        decoder.push(chunk);
      });
      socket.on('error', () => {});
    });
  }

  static async start(): Promise<ScriptedServer> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new ScriptedServer(server);
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  send(type: PacketType, args: string[] = []): void {
    this.#socket?.write(encodeResponse(type, args));
  }

  /** Several packets in one write, as gearmand sends a JOB_ASSIGN and the NOOP behind it. */
  sendTogether(packets: Array<[PacketType, string[]?]>): void {
    this.#socket?.write(Buffer.concat(packets.map(([type, args = []]) => encodeResponse(type, args))));
  }

  /** Stops reading the worker's socket, so that its writes back up until resumeReading(). */
  pauseReading(): void {
    this.#socket?.pause();
  }

  resumeReading(): void {
    this.#socket?.resume();
  }

  /** Drops the worker's connection. */
  dropConnection(): void {
    this.#socket?.destroy();
  }

  types(): string[] {
    return this.received.map((r) => r.type);
  }

  count(type: string): number {
    return this.received.filter((r) => r.type === type).length;
  }

  /** The received packets as [type, ...args], each write's packets in one inner list. */
  writes(): string[][] {
    const writes = new Map<number, string[]>();
    for (const r of this.received) {
      const write = writes.get(r.chunk) ?? [];
      write.push(r.type);
      writes.set(r.chunk, write);
    }
    return [...writes.values()];
  }

  async until(what: string, check: (received: Received[]) => boolean): Promise<void> {
    await waitFor(what, () => check(this.received), 3000);
  }

  /** Waits until `count` packets arrived, then a little longer, and checks nothing more came. */
  async exactly(count: number): Promise<void> {
    await this.until(`${count} packets`, (r) => r.length >= count);
    await sleep(50);
    expect(this.received).toHaveLength(count);
  }

  close(): Promise<void> {
    this.#socket?.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The rule that keeps a connection from being woken twice for nothing: between two
 * PRE_SLEEPs of one connection there is always a grab (a second PRE_SLEEP would only make
 * gearmand send another NOOP).
 */
export function expectNoDoubleSleep(log: readonly Received[]): void {
  const asleep = new Set<number>();
  for (const packet of log) {
    if (packet.type === 'PRE_SLEEP') {
      expect(asleep.has(packet.connection), 'PRE_SLEEP twice without a grab between').toBe(false);
      asleep.add(packet.connection);
    } else if (packet.type.startsWith('GRAB_JOB')) {
      asleep.delete(packet.connection);
    }
  }
}

const servers: ScriptedServer[] = [];

/** Closes every server setup() started (call it in afterEach, after closeWorkers()). */
export async function closeServers(): Promise<void> {
  const closing = servers.splice(0);
  for (const server of closing) expectNoDoubleSleep(server.log);
  await Promise.all(closing.map((server) => server.close()));
}

export async function setup(options: Partial<WorkerOptions> = {}) {
  const server = await ScriptedServer.start();
  servers.push(server);
  const worker = trackedWorker({ servers: [`127.0.0.1:${server.port}`], reconnect: false, ...options });
  return { server, worker };
}

type TestWorker = ReturnType<typeof trackedWorker>;

/**
 * Connects and answers the probe grab with NO_JOB: the worker sends PRE_SLEEP and is
 * asleep (the queue looked empty). `received` is cleared.
 */
export async function connectAsleep(server: ScriptedServer, worker: TestWorker): Promise<void> {
  await worker.start();
  await server.until('the probe grab', (r) => r.some((p) => p.type === 'GRAB_JOB_ALL'));
  server.send(PacketType.NO_JOB);
  await server.until('PRE_SLEEP', (r) => r.some((p) => p.type === 'PRE_SLEEP'));
  server.received.length = 0;
}

/**
 * Asleep, then woken by NOOP with nothing running: the worker grabs maxJobs with a
 * PRE_SLEEP behind them (`received` is cleared before the NOOP, so it sees those).
 */
export async function connectAwake(server: ScriptedServer, worker: TestWorker): Promise<void> {
  await connectAsleep(server, worker);
  server.send(PacketType.NOOP);
}

/**
 * Awake with `maxJobs` grabs outstanding and plain grabs from now on, as in a backlog:
 * woken, its grabs bring `maxJobs` jobs of a `warm-up` function (registered here) and
 * then the NOOP gearmand answers a PRE_SLEEP with when more jobs are queued; the worker
 * answers the jobs and grabs again. `received` is cleared.
 */
export async function connectBacklog(
  server: ScriptedServer,
  worker: TestWorker,
  maxJobs: number,
): Promise<void> {
  worker.register('warm-up', () => '');
  await connectAwake(server, worker);
  await server.until('the grabs and PRE_SLEEP', (r) => r.length === maxJobs + 1);
  server.received.length = 0;
  const jobs = Array.from({ length: maxJobs }, (_, i): [PacketType, string[]] => [
    PacketType.JOB_ASSIGN_UNIQ,
    [`H:warm:${i}`, 'warm-up', '', ''],
  ]);
  server.sendTogether([...jobs, [PacketType.NOOP]]);
  await server.exactly(2 * maxJobs);
  expect(server.types()).toEqual([
    ...Array.from({ length: maxJobs }, () => 'WORK_COMPLETE'),
    ...Array.from({ length: maxJobs }, () => 'GRAB_JOB_ALL'),
  ]);
  server.received.length = 0;
}
