import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./env";
import { problemResponse } from "./problem";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Whether the request carries a body: a declared empty one needs no type. Node's server gives every
 * non-GET request a body stream, so a request with neither a length, chunked framing nor a type (a
 * bare `DELETE` from fetch) has none. A body this misses is never parsed: the routes read only
 * `application/json` bodies.
 */
function hasBody(request: Request): boolean {
  if (request.body === null) return false;
  const length = request.headers.get("content-length");
  if (length !== null) return length.trim() !== "0";
  return request.headers.has("transfer-encoding") || request.headers.has("content-type");
}

/**
 * Guards the JSON API: bodies must be JSON (415 otherwise) and no larger than the configured limit
 * (413, checked while streaming, so a lying or missing Content-Length cannot get past it).
 */
export function jsonBodyGuard(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = sizeLimit(maxBytes);
  return async function jsonBodyGuard(c, next) {
    if (!hasBody(c.req.raw)) return next();
    const type = c.req.header("content-type") ?? "";
    if (!JSON_TYPE.test(type)) {
      return problemResponse(c, {
        code: "unsupported_media_type",
        detail: `Send the request body as application/json${type ? `, not ${type.split(";")[0]}` : ""}.`,
      });
    }
    return limit(c, next);
  };
}

/**
 * Guards every request outside the JSON API (the console's forms) with the same size limit: a
 * form handler reads the whole body, so an oversized one is refused (413) while it streams in,
 * before anything is buffered.
 */
export function formBodyGuard(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = sizeLimit(maxBytes);
  return async function formBodyGuard(c, next) {
    if (c.req.path.startsWith("/api/") || !hasBody(c.req.raw)) return next();
    return limit(c, next);
  };
}

function sizeLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      problemResponse(c, {
        code: "payload_too_large",
        detail: `The request body exceeds the limit of ${maxBytes} bytes.`,
      }),
  });
}
