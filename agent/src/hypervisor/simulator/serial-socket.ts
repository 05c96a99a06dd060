import { existsSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";

const BUFFER_LIMIT = 1024 * 1024;

/**
 * The serial port in `Socket` mode (vmm/src/serial_manager.rs): bound at vm.create (the path must
 * not exist), one client at a time (a new one kicks the old), and the last 1 MiB of output is
 * replayed to each new client.
 */
export class SerialSocket {
  readonly path: string;
  readonly #server: Server;
  #client: Socket | undefined;
  #buffer = Buffer.alloc(0);

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
    server.on("connection", (client) => {
      this.#client?.destroy();
      this.#client = client;
      client.on("error", () => client.destroy());
      client.on("close", () => {
        if (this.#client === client) this.#client = undefined;
      });
      // Guest input is accepted and dropped: there is no guest to read it.
      client.on("data", () => {});
      if (this.#buffer.length > 0) client.write(this.#buffer);
    });
  }

  static async bind(path: string): Promise<SerialSocket> {
    if (existsSync(path)) throw new Error(`Error creating serial socket: ${path} already exists`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    return new SerialSocket(path, server);
  }

  write(text: string): void {
    this.#buffer = Buffer.concat([this.#buffer, Buffer.from(text)]);
    if (this.#buffer.length > BUFFER_LIMIT) this.#buffer = this.#buffer.subarray(-BUFFER_LIMIT);
    this.#client?.write(text);
  }

  close(): void {
    this.#client?.destroy();
    this.#server.close();
    rmSync(this.path, { force: true });
  }
}
