import type { IncomingMessage, ServerResponse } from "node:http";

export type BodyResult = { ok: true; body: Buffer } | { ok: false; received: number };

/** Past this many discarded bytes we stop being polite and drop the connection. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads a request body up to `maxBytes`. Past the limit nothing more is kept, but the rest is
 * still read (and discarded) before we answer: replying mid-upload makes fetch() report a reset
 * connection instead of our 413.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received <= maxBytes) chunks.push(chunk);
      else if (chunks.length > 0) chunks.length = 0;
      if (received > MAX_DRAIN_BYTES) req.socket.destroy();
    });
    req.on("end", () =>
      resolve(
        received <= maxBytes ? { ok: true, body: Buffer.concat(chunks) } : { ok: false, received },
      ),
    );
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(new Error("request aborted"));
    });
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": "text/plain",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Error bodies in the Hrana error shape, which `@libsql/client` turns into `LibsqlError.code`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { message, code }, headers);
}
