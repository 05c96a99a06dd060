import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env";

/** One structured log line per request, written after the response is known. */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const { clock, log } = c.var.deps;
    const started = clock.now();
    await next();
    log.info("request", {
      requestId: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: clock.now() - started,
    });
  };
}
