import { createRoute, z } from "@hono/zod-openapi";
import type { RegistrationResponseJSON } from "@simplewebauthn/server";
import { beginSignUp, completeSignUp } from "../../../domain/identity/accounts";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { limitCeremony } from "./ceremony-guard";
import {
  CeremonyId,
  CeremonyStart,
  DisplayName,
  Email,
  jsonObject,
  RegistrationCredential,
  SignedIn,
  userJson,
} from "./schemas";
import { signIn } from "./session-start";

const SignUpOptionsBody = z
  .object({
    email: Email,
    displayName: DisplayName,
    setupCode: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ description: "Only on a fresh installation" }),
    invitation: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: "The secret of an invitation link" }),
  })
  .openapi("SignUpOptionsRequest");

const signUpOptions = createRoute({
  method: "post",
  path: "/api/v1/auth/sign-up/options",
  tags: ["auth"],
  summary:
    "Start creating an account: set-up code, invitation or open sign-up; returns passkey options",
  request: {
    body: { required: true, content: { "application/json": { schema: SignUpOptionsBody } } },
  },
  responses: {
    200: {
      description: "Registration options",
      content: { "application/json": { schema: CeremonyStart } },
    },
    ...problemResponses(
      "validation_failed",
      "setup_code_invalid",
      "signup_closed",
      "email_taken",
      "already_set_up",
      "invitation_invalid",
      "rate_limited",
    ),
  },
});

const SignUpBody = z
  .object({ ceremonyId: CeremonyId, credential: RegistrationCredential })
  .openapi("SignUpRequest");

const signUp = createRoute({
  method: "post",
  path: "/api/v1/auth/sign-up",
  tags: ["auth"],
  summary: "Finish creating an account with the new passkey; signs the new user in",
  request: { body: { required: true, content: { "application/json": { schema: SignUpBody } } } },
  responses: {
    201: {
      description: "The new account (the session cookie is set)",
      content: { "application/json": { schema: SignedIn } },
    },
    ...problemResponses(
      "validation_failed",
      "webauthn_failed",
      "challenge_invalid",
      "email_taken",
      "already_set_up",
      "rate_limited",
    ),
  },
});

export function registerSignUp(app: Router): void {
  app.openapi(signUpOptions, async (c) => {
    const body = c.req.valid("json");
    await limitCeremony(c, body.email);
    const started = await beginSignUp(c.var.deps, {
      email: body.email,
      displayName: body.displayName,
      ...(body.setupCode !== undefined ? { setupCode: body.setupCode } : {}),
      ...(body.invitation !== undefined ? { invitation: body.invitation } : {}),
    });
    return c.json({ ceremonyId: started.ceremonyId, options: jsonObject(started.options) }, 200);
  });

  app.openapi(signUp, async (c) => {
    const body = c.req.valid("json");
    await limitCeremony(c);
    const user = await completeSignUp(c.var.deps, {
      ceremonyId: body.ceremonyId,
      response: body.credential as RegistrationResponseJSON,
      requestId: c.var.requestId,
    });
    const { csrfToken } = await signIn(c, user.id);
    return c.json({ user: userJson(user), csrfToken }, 201);
  });
}
