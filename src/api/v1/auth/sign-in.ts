import { createRoute, z } from "@hono/zod-openapi";
import type { AuthenticationResponseJSON } from "@simplewebauthn/server";
import { auditStatement } from "../../../domain/audit/record";
import { beginSignIn, completeSignIn } from "../../../domain/identity/accounts";
import { revokeSession } from "../../../domain/identity/sessions";
import { clearSessionCookie } from "../../../http/session-cookie";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { limitCeremony } from "./ceremony-guard";
import {
  AuthenticationCredential,
  CeremonyId,
  CeremonyStart,
  Email,
  jsonObject,
  SignedIn,
  userJson,
} from "./schemas";
import { signIn } from "./session-start";

const SignInOptionsBody = z
  .object({
    email: Email.optional().openapi({
      description: "Omit for username-less sign-in with a discoverable passkey",
    }),
  })
  .openapi("SignInOptionsRequest");

const signInOptions = createRoute({
  method: "post",
  path: "/api/v1/auth/sign-in/options",
  tags: ["auth"],
  summary: "Start signing in with a passkey (email-first or username-less)",
  request: {
    body: { required: true, content: { "application/json": { schema: SignInOptionsBody } } },
  },
  responses: {
    200: {
      description: "Authentication options",
      content: { "application/json": { schema: CeremonyStart } },
    },
    ...problemResponses("validation_failed", "rate_limited"),
  },
});

const SignInBody = z
  .object({ ceremonyId: CeremonyId, credential: AuthenticationCredential })
  .openapi("SignInRequest");

const signInRoute = createRoute({
  method: "post",
  path: "/api/v1/auth/sign-in",
  tags: ["auth"],
  summary: "Finish signing in; starts a new session (cookie)",
  request: { body: { required: true, content: { "application/json": { schema: SignInBody } } } },
  responses: {
    200: {
      description: "The signed-in user",
      content: { "application/json": { schema: SignedIn } },
    },
    ...problemResponses(
      "validation_failed",
      "webauthn_failed",
      "challenge_invalid",
      "rate_limited",
    ),
  },
});

const signOut = createRoute({
  method: "post",
  path: "/api/v1/auth/sign-out",
  tags: ["auth"],
  summary: "End the current browser session",
  responses: {
    204: { description: "Signed out (also when there was no session)" },
    ...problemResponses("csrf_failed"),
  },
});

export function registerSignIn(app: Router): void {
  app.openapi(signInOptions, async (c) => {
    const { email } = c.req.valid("json");
    await limitCeremony(c, email);
    const started = await beginSignIn(c.var.deps, email);
    return c.json({ ceremonyId: started.ceremonyId, options: jsonObject(started.options) }, 200);
  });

  app.openapi(signInRoute, async (c) => {
    const body = c.req.valid("json");
    await limitCeremony(c);
    // No per-account count here: anyone may start ceremonies naming an account, and a verified
    // passkey is never refused for them (that would let a stranger lock its owner out).
    const user = await completeSignIn(c.var.deps, {
      ceremonyId: body.ceremonyId,
      response: body.credential as AuthenticationResponseJSON,
    });
    const { csrfToken } = await signIn(c, user.id);
    await auditStatement(
      {
        deps: c.var.deps,
        actor: { kind: "user", userId: user.id, sessionId: null },
        requestId: c.var.requestId,
      },
      { action: "user.sign_in", target: { type: "user", id: user.id } },
    );
    return c.json({ user: userJson(user), csrfToken }, 200);
  });

  app.openapi(signOut, async (c) => {
    const active = c.var.session;
    if (active) await revokeSession(c.var.deps, active.user.id, active.session.id);
    clearSessionCookie(c);
    return c.body(null, 204);
  });
}
