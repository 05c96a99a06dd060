import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on loopback that delays every byte by half of `rttMs` in each direction, so a
 * connection through it behaves like one over a network with that round trip (a link without
 * loss or bandwidth limit). HTTP, keep-alive and WebSocket pass through untouched.
 */
export class DelayProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #oneWayMs: number;
  #port = 0;

  private constructor(
    readonly target: { host: string; port: number },
    rttMs: number,
  ) {
    this.#oneWayMs = rttMs / 2;
    this.#server = createServer((client) => this.#pipe(client));
  }

  static async start(targetBase: string, rttMs: number): Promise<DelayProxy> {
    const url = new URL(targetBase);
    const proxy = new DelayProxy({ host: url.hostname, port: Number(url.port) }, rttMs);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    const address = proxy.#server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    proxy.#port = address.port;
    return proxy;
  }

  get base(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    }
    this.#forward(client, upstream);
    this.#forward(upstream, client);
  }

  /** Chunks leave in order: each is held for the same one-way delay after it arrived. */
  #forward(from: Socket, to: Socket): void {
    from.on("data", (chunk) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, this.#oneWayMs);
    });
    from.on("end", () => setTimeout(() => to.end(), this.#oneWayMs));
    from.on("error", () => to.destroy());
  }
}
