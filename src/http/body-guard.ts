import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./env";
import { problemResponse } from "./problem";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

// A declared empty body needs no type; anything else with a body stream must be JSON.
function hasBody(request: Request): boolean {
  if (request.body === null) return false;
  return request.headers.get("content-length")?.trim() !== "0";
}

/**
 * Guards the JSON API: bodies must be JSON (415 otherwise) and no larger than the configured limit
 * (413, checked while streaming, so a lying or missing Content-Length cannot get past it).
 */
export function jsonBodyGuard(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      problemResponse(c, {
        code: "payload_too_large",
        detail: `The request body exceeds the limit of ${maxBytes} bytes.`,
      }),
  });
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
