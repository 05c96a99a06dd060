import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import type { Duplex } from "node:stream";

/**
 * A loopback HTTP proxy in front of a control plane that passes plain requests (long polls
 * included) and, until told otherwise, WebSocket upgrades: like a corporate proxy that may stop
 * letting WebSockets through (design §4.2 row 23).
 */
export async function startUpgradeProxy(target: string) {
  const upstream = new URL(target);
  const port = Number(upstream.port);
  const tunnels = new Set<Duplex>();
  let refuse = false;
  let refused = 0;

  const server = createServer((req, res) => {
    const out = httpRequest(
      { host: upstream.hostname, port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    // The client gave up (an aborted long poll): give up upstream too.
    res.on("close", () => out.destroy());
    req.pipe(out);
  });

  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (refuse) {
      refused++;
      socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const up = connect(port, upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on("error", () => socket.destroy());
    socket.on("close", () => {
      up.destroy();
      tunnels.delete(socket);
    });
    tunnels.add(socket);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    /** From now on upgrades get 502, and open WebSockets are cut (as a proxy restart would). */
    refuseWebSockets(): void {
      refuse = true;
      for (const socket of tunnels) socket.destroy();
    },
    /** Lets upgrades through again. */
    allowWebSockets(): void {
      refuse = false;
    },
    /** How many upgrades were refused. */
    refused: () => refused,
    close(): Promise<void> {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
