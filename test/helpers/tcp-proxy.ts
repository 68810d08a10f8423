import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of one server, to cut a client's connections and
 * refuse new ones for a while (as a network outage would) while the server behind it
 * keeps its state. Only for tests: every socket is ended by cut() or close().
 */
export class TcpProxy {
  readonly #target: { readonly host: string; readonly port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | null = null;
  #port = 0;
  /** Connections accepted but not yet passed on (see restore's `gather`). */
  #held: net.Socket[] = [];
  #gather = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.#listen(0);
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Drops every proxied connection, both ways, and refuses connections until restore(). */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#held = [];
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Accepts connections again, on the same port. With `gather`, the first that many are
   * held (what they send waits) and passed on together once all have come, so that they
   * reach the server at one moment however their reconnect timers are spread.
   */
  restore(options: { gather?: number } = {}): Promise<void> {
    this.#gather = options.gather ?? 0;
    return this.#listen(this.#port);
  }

  close(): Promise<void> {
    return this.cut();
  }

  #listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.#port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  #accept(client: net.Socket): void {
    if (this.#gather === 0) {
      this.#pipe(client);
      return;
    }
    client.pause();
    client.on('error', () => {});
    this.#sockets.add(client);
    this.#held.push(client);
    if (this.#held.length < this.#gather) return;
    this.#gather = 0;
    for (const held of this.#held.splice(0)) this.#pipe(held);
  }

  #pipe(client: net.Socket): void {
    const upstream = net.connect(this.#target);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
