import { createRoute, z } from "@hono/zod-openapi";
import type { RegistrationResponseJSON } from "@simplewebauthn/server";
import { ServiceError } from "../../../domain/errors";
import type { PasskeyRow } from "../../../domain/identity/ceremonies";
import {
  beginAddPasskey,
  finishAddPasskey,
  listPasskeys,
  removePasskey,
  renamePasskey,
} from "../../../domain/identity/passkey-management";
import { listSessions, revokeSession } from "../../../domain/identity/sessions";
import { serviceContext } from "../../../http/auth";
import type { Ctx } from "../../../http/env";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { limitCeremony } from "./ceremony-guard";
import {
  CeremonyId,
  CeremonyStart,
  jsonObject,
  Passkey,
  RegistrationCredential,
  Session,
} from "./schemas";

/** The signed-in person's own sessions and passkeys (browser sessions only: not for API tokens). */

const IdParam = z.object({ id: z.string().min(1).max(64) });
const PasskeyName = z.string().trim().min(1).max(60);

function passkeyJson(p: PasskeyRow) {
  return {
    id: p.id,
    name: p.name,
    deviceType: p.deviceType,
    backedUp: p.backedUp,
    createdAt: p.createdAt,
    lastUsedAt: p.lastUsedAt,
  };
}

function selfUser(c: Ctx): { userId: string; sessionId: string | null } {
  const sc = serviceContext(c);
  if (sc.actor.kind !== "user")
    throw new ServiceError("FORBIDDEN", "Only a signed-in person can do this, not an API token.");
  return { userId: sc.actor.userId, sessionId: sc.actor.sessionId };
}

const common = problemResponses("unauthenticated", "forbidden", "csrf_failed");

const routes = {
  listSessions: createRoute({
    method: "get",
    path: "/api/v1/me/sessions",
    tags: ["account"],
    summary: "Your active browser sessions",
    responses: {
      200: {
        description: "Sessions",
        content: { "application/json": { schema: z.object({ items: z.array(Session) }) } },
      },
      ...common,
    },
  }),
  revokeSession: createRoute({
    method: "delete",
    path: "/api/v1/me/sessions/{id}",
    tags: ["account"],
    summary: "End one of your sessions (signs that browser out)",
    request: { params: IdParam },
    responses: { 204: { description: "Ended" }, ...common, ...problemResponses("not_found") },
  }),
  listPasskeys: createRoute({
    method: "get",
    path: "/api/v1/me/passkeys",
    tags: ["account"],
    summary: "Your passkeys",
    responses: {
      200: {
        description: "Passkeys",
        content: { "application/json": { schema: z.object({ items: z.array(Passkey) }) } },
      },
      ...common,
    },
  }),
  addPasskeyOptions: createRoute({
    method: "post",
    path: "/api/v1/me/passkeys/options",
    tags: ["account"],
    summary: "Start registering another passkey",
    responses: {
      200: {
        description: "Registration options",
        content: { "application/json": { schema: CeremonyStart } },
      },
      ...common,
      ...problemResponses("rate_limited"),
    },
  }),
  addPasskey: createRoute({
    method: "post",
    path: "/api/v1/me/passkeys",
    tags: ["account"],
    summary: "Finish registering another passkey",
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.object({
              ceremonyId: CeremonyId,
              credential: RegistrationCredential,
              name: PasskeyName.optional(),
            }),
          },
        },
      },
    },
    responses: {
      201: { description: "The new passkey", content: { "application/json": { schema: Passkey } } },
      ...common,
      ...problemResponses(
        "validation_failed",
        "webauthn_failed",
        "challenge_invalid",
        "rate_limited",
      ),
    },
  }),
  renamePasskey: createRoute({
    method: "patch",
    path: "/api/v1/me/passkeys/{id}",
    tags: ["account"],
    summary: "Rename a passkey",
    request: {
      params: IdParam,
      body: {
        required: true,
        content: { "application/json": { schema: z.object({ name: PasskeyName }) } },
      },
    },
    responses: {
      200: { description: "Renamed", content: { "application/json": { schema: Passkey } } },
      ...common,
      ...problemResponses("validation_failed", "not_found"),
    },
  }),
  removePasskey: createRoute({
    method: "delete",
    path: "/api/v1/me/passkeys/{id}",
    tags: ["account"],
    summary: "Remove a passkey (not your last one)",
    request: { params: IdParam },
    responses: {
      204: { description: "Removed" },
      ...common,
      ...problemResponses("not_found", "last_passkey"),
    },
  }),
};

export function registerAccount(app: Router): void {
  app.openapi(routes.listSessions, async (c) => {
    const { userId, sessionId } = selfUser(c);
    const items = (await listSessions(c.var.deps, userId)).map((s) => ({
      id: s.id,
      current: s.id === sessionId,
      userAgent: s.userAgent,
      ip: s.ip,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt,
    }));
    return c.json({ items }, 200);
  });

  app.openapi(routes.revokeSession, async (c) => {
    const { userId } = selfUser(c);
    const { id } = c.req.valid("param");
    if (!(await revokeSession(c.var.deps, userId, id)))
      throw new ServiceError("NOT_FOUND", `No session ${id}.`);
    return c.body(null, 204);
  });

  app.openapi(routes.listPasskeys, async (c) => {
    selfUser(c);
    const items = (await listPasskeys(serviceContext(c))).map(passkeyJson);
    return c.json({ items }, 200);
  });

  app.openapi(routes.addPasskeyOptions, async (c) => {
    const { userId } = selfUser(c);
    await limitCeremony(c, userId);
    const started = await beginAddPasskey(serviceContext(c));
    return c.json({ ceremonyId: started.ceremonyId, options: jsonObject(started.options) }, 200);
  });

  app.openapi(routes.addPasskey, async (c) => {
    const { userId } = selfUser(c);
    await limitCeremony(c, userId);
    const body = c.req.valid("json");
    const row = await finishAddPasskey(serviceContext(c), {
      ceremonyId: body.ceremonyId,
      response: body.credential as RegistrationResponseJSON,
      name: body.name,
    });
    return c.json(passkeyJson(row), 201);
  });

  app.openapi(routes.renamePasskey, async (c) => {
    selfUser(c);
    const row = await renamePasskey(
      serviceContext(c),
      c.req.valid("param").id,
      c.req.valid("json").name,
    );
    return c.json(passkeyJson(row), 200);
  });

  app.openapi(routes.removePasskey, async (c) => {
    selfUser(c);
    await removePasskey(serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
