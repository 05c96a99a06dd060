import type { MiddlewareHandler } from "hono";
import type { EntityRef } from "../authz/authorizer";
import { type AuthorizeOptions, authorizeActor } from "../domain/authorize";
import type { Actor, ServiceContext } from "../domain/context";
import { ServiceError } from "../domain/errors";
import { actorFromApiToken } from "../domain/identity/api-token-auth";
import { sessionFromToken } from "../domain/identity/sessions";
import type { AppEnv, Ctx } from "./env";
import { readSessionCookie } from "./session-cookie";

/**
 * Resolves who is calling: an `Authorization: Bearer` API token, or else the session cookie.
 * A bad bearer token is an error right away (401); a stale cookie just means anonymous.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    c.set("actor", null);
    c.set("session", null);
    const authorization = c.req.header("authorization");
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match?.[1]) {
        throw new ServiceError("UNAUTHENTICATED", "Use `Authorization: Bearer <token>`.", [
          {
            in: "header",
            field: "authorization",
            code: "invalid_scheme",
            message: "expected a Bearer token",
          },
        ]);
      }
      c.set("actor", await actorFromApiToken(c.var.deps, match[1]));
    } else {
      const token = readSessionCookie(c);
      const active = token === undefined ? null : await sessionFromToken(c.var.deps, token);
      if (active) {
        c.set("session", active);
        c.set("actor", { kind: "user", userId: active.user.id, sessionId: active.session.id });
      }
    }
    await next();
  };
}

/** The caller, or 401 when nobody is signed in. */
export function currentActor(c: Ctx): Actor {
  const actor = c.var.actor;
  if (!actor) throw new ServiceError("UNAUTHENTICATED", "Sign in or send an API token.");
  return actor;
}

/** What domain verbs take: deps, the (authenticated) actor and the request id for the audit log. */
export function serviceContext(c: Ctx): ServiceContext {
  return { deps: c.var.deps, actor: currentActor(c), requestId: c.var.requestId };
}

/**
 * The one authorization gate of routes and pages. Allowed → the actor. Denied → 403 when the
 * caller may see the target, 404 when it may not (so ids of other tenants' objects leak nothing).
 */
export async function authorize(
  c: Ctx,
  entity: EntityRef,
  permission: string,
  options: AuthorizeOptions = {},
): Promise<Actor> {
  const actor = currentActor(c);
  await authorizeActor(
    { deps: c.var.deps, actor, requestId: c.var.requestId },
    entity,
    permission,
    options,
  );
  return actor;
}
