import type { MiddlewareHandler } from "hono";
import { ServiceError } from "../domain/errors";
import { constantTimeEqual } from "../lib/secrets";
import type { AppEnv, Ctx } from "./env";
import { parseFormBody } from "./form-body";

/** The header htmx sends (public/static/js/app.js) and the field plain forms carry. */
export const CSRF_HEADER = "x-csrf-token";
export const CSRF_FIELD = "_csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function refuse(message: string): never {
  throw new ServiceError("FORBIDDEN", message, [], "csrf_failed");
}

async function submittedToken(c: Ctx): Promise<string | undefined> {
  const header = c.req.header(CSRF_HEADER);
  if (header !== undefined) return header;
  const type = c.req.header("content-type") ?? "";
  if (
    type.startsWith("application/x-www-form-urlencoded") ||
    type.startsWith("multipart/form-data")
  ) {
    const field = (await parseFormBody(c))[CSRF_FIELD];
    return typeof field === "string" ? field : undefined;
  }
  return undefined;
}

/**
 * Cross-site request forgery defence for state-changing requests. Any request that names another
 * origin is refused. A request riding on the session cookie must also come from our origin (or be
 * marked same-origin by the browser) and carry the session's CSRF token. Bearer-token calls carry
 * no ambient credential, so they need neither. Runs after `authenticate`.
 */
export function csrfProtection(): MiddlewareHandler<AppEnv> {
  return async function csrfProtection(c, next) {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const expectedOrigin = c.var.deps.config.webauthn.origin;
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== expectedOrigin) {
      refuse(`Requests from ${origin} are not accepted; use ${expectedOrigin}.`);
    }
    const session = c.var.session;
    if (session && c.var.actor?.kind === "user") {
      if (origin === undefined && c.req.header("sec-fetch-site") !== "same-origin") {
        refuse("The request does not say where it came from (no Origin header).");
      }
      const token = await submittedToken(c);
      if (token === undefined || !constantTimeEqual(token, session.session.csrfToken)) {
        refuse("The form is stale or was not sent by this site; reload the page and try again.");
      }
    }
    await next();
  };
}
