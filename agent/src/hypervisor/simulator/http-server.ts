import type { Server, Socket } from "node:net";

export type HttpRequest = { method: string; path: string; body: string | undefined };
/** `body: undefined` is a response without body: no Content-Length for 204, `0` otherwise. */
export type HttpResponse = { status: number; body?: string | undefined };
export type Handled = { response: HttpResponse; after?: () => void };
export type Handler = (request: HttpRequest) => Promise<Handled>;

const MAX_CONNECTIONS = 10;
const MAX_PAYLOAD = 4 * 1024 * 1024;
const HEADER_LIMIT = 64 * 1024;
const DROPPED = "\nAll previous unanswered requests will be dropped.";

/** Serializes a response like micro_http: no reason phrase, fixed headers, JSON bodies. */
export function formatResponse(response: HttpResponse, close = false): Buffer {
  const lines = [
    `HTTP/1.1 ${response.status} `,
    "Server: Cloud Hypervisor API",
    `Connection: ${close ? "close" : "keep-alive"}`,
  ];
  if (response.body !== undefined) {
    lines.push("Content-Type: application/json");
    lines.push(`Content-Length: ${Buffer.byteLength(response.body)}`);
  } else if (response.status !== 204) {
    lines.push("Content-Length: 0");
  }
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${response.body ?? ""}`);
}

type Parsed =
  | { kind: "incomplete" }
  | { kind: "request"; request: HttpRequest; consumed: number }
  | { kind: "error"; message: string }
  | { kind: "continue" };

function parse(buffer: Buffer, continued: boolean): Parsed {
  const end = buffer.indexOf("\r\n\r\n");
  if (end < 0) {
    return buffer.length > HEADER_LIMIT
      ? { kind: "error", message: "Invalid request." }
      : { kind: "incomplete" };
  }
  const [requestLine = "", ...headerLines] = buffer
    .subarray(0, end)
    .toString("latin1")
    .split("\r\n");
  const parts = requestLine.split(" ");
  const [method = "", uri = "", version = ""] = parts;
  if (parts.length !== 3 || !/^HTTP\/1\.[01]$/.test(version))
    return { kind: "error", message: "Invalid request." };
  if (!["GET", "PUT", "PATCH", "DELETE"].includes(method))
    return { kind: "error", message: "Invalid HTTP Method." };
  let length = 0;
  let expectContinue = false;
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon < 0) return { kind: "error", message: "Invalid header." };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d+$/.test(value)) return { kind: "error", message: "Invalid content length." };
      length = Number(value);
    } else if (name === "expect" && value.toLowerCase() === "100-continue") expectContinue = true;
    else if (name === "accept-encoding" && /identity;q=0(?![.\d]*[1-9])/.test(value))
      return { kind: "error", message: "Invalid value for header: Accept-Encoding." };
    // Transfer-Encoding and other headers are ignored: the body is read by Content-Length only.
  }
  if (length > MAX_PAYLOAD)
    return {
      kind: "error",
      message: `Request payload with size ${length} is larger than the limit of ${MAX_PAYLOAD} allowed by server.`,
    };
  const bodyStart = end + 4;
  if (buffer.length < bodyStart + length)
    return expectContinue && !continued ? { kind: "continue" } : { kind: "incomplete" };
  const body = length > 0 ? buffer.subarray(bodyStart, bodyStart + length).toString("utf8") : "";
  return {
    kind: "request",
    request: { method, path: uri, body: length > 0 ? body : undefined },
    consumed: bodyStart + length,
  };
}

/**
 * A micro_http-like HTTP/1.1 server: keep-alive, at most 10 connections, and one global queue so
 * requests are answered one at a time, like CH's single API thread waiting on the VMM loop.
 */
export function serveHttp(server: Server, handle: Handler): void {
  let queue: Promise<void> = Promise.resolve();
  const open = new Set<Socket>();
  server.on("connection", (socket) => {
    if (open.size >= MAX_CONNECTIONS) {
      const body = JSON.stringify({ error: "Too many open connections" });
      socket.end(formatResponse({ status: 503, body }, true));
      return;
    }
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let continued = false;
    let broken = false;
    socket.on("data", (chunk: Buffer) => {
      if (broken) return;
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parse(buffer, continued);
        if (parsed.kind === "incomplete") return;
        if (parsed.kind === "continue") {
          continued = true;
          socket.write("HTTP/1.1 100 \r\n\r\n");
          return;
        }
        if (parsed.kind === "error") {
          broken = true;
          const body = JSON.stringify({ error: `${parsed.message}${DROPPED}` });
          queue = queue.then(() => {
            socket.end(formatResponse({ status: 400, body }, true));
          });
          return;
        }
        buffer = buffer.subarray(parsed.consumed);
        continued = false;
        const request = parsed.request;
        queue = queue.then(async () => {
          const { response, after } = await handle(request).catch(
            (error: unknown): Handled => ({
              // A simulator bug must not wedge the queue; answer like an internal error.
              response: { status: 500, body: JSON.stringify(["Simulator error", String(error)]) },
            }),
          );
          if (socket.destroyed) {
            after?.();
            return;
          }
          await new Promise<void>((resolve) =>
            socket.write(formatResponse(response), () => resolve()),
          );
          after?.();
        });
      }
    });
  });
}
