import { type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { AcceptUpgrade, SocketHandlers } from "../wakeup/in-process";
import type { DoorbellSocket } from "../wakeup/wakeup";

/** The app's fetch with the bindings @hono/node-server gives it (getConnInfo reads `incoming`). */
type AppFetch = (
  request: Request,
  env: { incoming: IncomingMessage; outgoing: undefined },
) => Response | Promise<Response>;

/** Doorbell messages are a few bytes; anything large is not ours. */
const MAX_MESSAGE_BYTES = 4096;
/** An upgraded socket silent this long (no ping, no frame) is dropped: its peer is gone. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * WebSocket upgrades on the Node server. Each upgrade request goes through the app like any other
 * request (same routes, middleware, authentication and problem+json answers); a route that takes
 * the socket calls `accept`, and only then is the handshake completed (`ws`). Refusals are written
 * back in full, body included (@hono/node-server's built-in upgrade support drops the body).
 */
export function createNodeUpgrades() {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const accepted = new WeakMap<Request, (socket: DoorbellSocket) => SocketHandlers>();

  const accept: AcceptUpgrade = (request, open) => {
    accepted.set(request, open);
    // Never sent: the handshake's 101 replaces it (Node's Response cannot hold a 101).
    return new Response(null, { status: 200 });
  };

  async function upgrade(
    fetch: AppFetch,
    incoming: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    socket.on("error", () => socket.destroy());
    const request = toRequest(incoming);
    let response: Response;
    try {
      response = await fetch(request, { incoming, outgoing: undefined });
    } catch {
      response = new Response(null, { status: 500 });
    }
    const open = accepted.get(request);
    if (socket.destroyed) return;
    if (!open) {
      await refuse(socket, response);
      return;
    }
    wss.handleUpgrade(incoming, socket, head, (ws) => {
      bind(ws, open);
      // Pings every 10 s keep it busy; silence means the peer is gone without closing.
      incoming.socket.setTimeout(IDLE_TIMEOUT_MS, () => ws.terminate());
    });
  }

  return {
    accept,
    /** Routes the server's upgrade requests through `fetch` (the app). */
    attach(server: Server, fetch: AppFetch): void {
      server.on("upgrade", (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
        void upgrade(fetch, incoming, socket, head);
      });
    },
    /**
     * Says goodbye (1001) to every open socket so the server can close: each upgraded socket is
     * still one of its connections. Agents reconnect after a jittered delay.
     */
    closeAll(): void {
      for (const ws of wss.clients) {
        ws.close(1001, "server shutting down");
        setTimeout(() => ws.terminate(), 2_000).unref();
      }
      wss.close();
    },
  };
}

function toRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const url = new URL(incoming.url ?? "/", `http://${incoming.headers.host ?? "localhost"}`);
  return new Request(url, { headers });
}

/** The app's answer as a plain HTTP/1.1 response, then the connection is closed. */
async function refuse(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`];
  response.headers.forEach((value, name) => {
    if (!["connection", "content-length", "transfer-encoding"].includes(name)) {
      lines.push(`${name}: ${value}`);
    }
  });
  lines.push(`Content-Length: ${body.length}`, "Connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n")), body]));
}

function bind(ws: WebSocket, open: (socket: DoorbellSocket) => SocketHandlers): void {
  const handlers = open({
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) handlers.message(data.toString());
  });
  ws.on("close", () => handlers.closed());
  ws.on("error", () => ws.terminate());
}
