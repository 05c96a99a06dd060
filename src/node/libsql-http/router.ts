import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { handleCursor } from "./cursor";
import { ProtocolError, StreamExpiredError } from "./errors";
import { readBody, sendError, sendJson, sendText } from "./http-io";
import { type HranaContext, handlePipeline } from "./pipeline";
import { type HranaVersion, parseCursorReq, parsePipelineReq } from "./protocol";

export interface RouterOptions {
  hrana: HranaContext;
  maxRequestBytes: number;
  authToken: string | undefined;
  version: string;
}

/** Fields the router adds to the request's log line. */
export type RequestLog = Record<string, unknown>;

type Route =
  | { method: "GET"; kind: "health" | "version" | "index"; auth: boolean; version?: HranaVersion }
  | { method: "POST"; kind: "pipeline" | "cursor"; auth: true; version: HranaVersion };

/** The routes sqld serves for Hrana over HTTP with JSON encoding. `/v3-protobuf` stays a 404 so
 * clients probing for it fall back to JSON. */
const ROUTES: Record<string, Route> = {
  "/": { method: "GET", kind: "index", auth: false },
  "/health": { method: "GET", kind: "health", auth: false },
  "/version": { method: "GET", kind: "version", auth: false },
  "/v2": { method: "GET", kind: "index", auth: true, version: 2 },
  "/v3": { method: "GET", kind: "index", auth: true, version: 3 },
  "/v2/pipeline": { method: "POST", kind: "pipeline", auth: true, version: 2 },
  "/v3/pipeline": { method: "POST", kind: "pipeline", auth: true, version: 3 },
  "/v3/cursor": { method: "POST", kind: "cursor", auth: true, version: 3 },
};

const digest = (value: string) => createHash("sha256").update(value).digest();

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1].trim()), digest(token));
}

export async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: RouterOptions,
): Promise<RequestLog> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const found = ROUTES[path];
  if (found === undefined) {
    sendError(res, 404, "NOT_FOUND", `No route for ${path}`);
    return {};
  }
  const method = req.method === "HEAD" ? "GET" : req.method;
  if (method !== found.method) {
    sendError(res, 405, "METHOD_NOT_ALLOWED", `Use ${found.method} for ${path}`, {
      allow: found.method === "GET" ? "GET, HEAD" : "POST",
    });
    return {};
  }
  // Database clients send no Origin; browsers always do on a cross-site (or DNS-rebound) request.
  // Without this, any page open beside `npm run dev` could run SQL here with a text/plain POST.
  if (found.auth && req.headers.origin !== undefined) {
    sendJson(res, 403, { error: "Forbidden: requests from web pages are refused" });
    return { error: "FORBIDDEN_ORIGIN" };
  }
  if (found.auth && !authorized(req, options.authToken)) {
    // sqld answers `{"error": ...}` (no `message`), which the client reports as HTTP status 401.
    sendJson(res, 401, { error: "Unauthorized: missing or invalid bearer token" });
    return { error: "UNAUTHORIZED" };
  }
  if (found.method === "GET") {
    if (found.kind === "health") sendText(res, 200, "");
    else if (found.kind === "version") sendText(res, 200, options.version);
    else sendText(res, 200, `Hello, this is HTTP API v${found.version ?? 2} (Hrana over HTTP)`);
    return {};
  }
  return handleHrana(req, res, found.kind, found.version, options);
}

async function handleHrana(
  req: IncomingMessage,
  res: ServerResponse,
  kind: "pipeline" | "cursor",
  version: HranaVersion,
  options: RouterOptions,
): Promise<RequestLog> {
  const read = await readBody(req, options.maxRequestBytes);
  if (!read.ok) {
    const message = `Request body of ${read.received} bytes exceeds the limit of ${options.maxRequestBytes} bytes (maxRequestBytes)`;
    sendError(res, 413, "REQUEST_TOO_LARGE", message);
    return { bytes_in: read.received, error: "REQUEST_TOO_LARGE" };
  }
  const log: RequestLog = { bytes_in: read.body.length };
  try {
    let json: unknown;
    try {
      json = JSON.parse(read.body.toString("utf8"));
    } catch (err) {
      throw new ProtocolError(`Cannot deserialize client message from JSON: ${String(err)}`);
    }
    if (kind === "cursor") {
      const { lines, streamId } = await handleCursor(options.hrana, parseCursorReq(json));
      sendText(res, 200, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
      return { ...log, stream: streamId, cursor_entries: lines.length - 1 };
    }
    const body = parsePipelineReq(json);
    log.requests = body.requests.map((r) => r.type);
    const { resp, streamId } = await handlePipeline(options.hrana, version, body);
    sendJson(res, 200, resp);
    const failed = resp.results.flatMap((r) => (r.type === "error" ? [r.error.code] : []));
    return { ...log, stream: streamId, ...(failed.length > 0 ? { errors: failed } : {}) };
  } catch (err) {
    if (err instanceof ProtocolError) {
      sendText(res, 400, err.message);
      return { ...log, error: "PROTOCOL_ERROR", message: err.message };
    }
    if (err instanceof StreamExpiredError) {
      sendError(res, 500, err.code, err.message);
      return { ...log, error: err.code };
    }
    throw err;
  }
}
