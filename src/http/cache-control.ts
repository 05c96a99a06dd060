import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env";

/**
 * Pages and API answers are private, and some carry a secret shown once (an API or enrollment
 * token, an invitation link): no browser or proxy cache keeps them, so Back after sign-out on a
 * shared machine shows nothing. Static assets (and any response that says otherwise) keep theirs.
 */
export function noStore(): MiddlewareHandler<AppEnv> {
  return async function noStore(c, next) {
    await next();
    if (c.req.path.startsWith("/static/") || c.res.headers.has("cache-control")) return;
    c.res.headers.set("cache-control", "no-store");
  };
}
