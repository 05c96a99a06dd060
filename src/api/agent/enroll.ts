import { createRoute } from "@hono/zod-openapi";
import { enroll } from "../../domain/hosts/enroll";
import { issueAccessToken } from "../../domain/hosts/issue-access-token";
import {
  enrollRequestSchema,
  enrollResponseSchema,
  tokenRequestSchema,
  tokenResponseSchema,
} from "../../protocol/agent-api";
import type { Router } from "../router";
import { AGENT_BASE, json, problems, TAG } from "./common";

const enrollRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/enroll`,
  tags: TAG,
  summary: "Enroll a host: enrollment token + proof of possession of the agent's new Ed25519 key",
  request: {
    body: { required: true, content: { "application/json": { schema: enrollRequestSchema } } },
  },
  responses: {
    201: json(enrollResponseSchema, "The host exists and waits for approval"),
    ...problems(
      "invalid_enrollment_token",
      "invalid_assertion",
      "clock_skew",
      "conflict",
      "trust_root_mismatch",
      "validation_failed",
      "not_ready",
    ),
  },
});

const tokenRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/token`,
  tags: TAG,
  summary: "Exchange a JWT-bearer assertion signed by the agent key for a 15 min access token",
  request: {
    body: { required: true, content: { "application/json": { schema: tokenRequestSchema } } },
  },
  responses: {
    200: json(tokenResponseSchema, "An access token"),
    ...problems(
      "invalid_assertion",
      "clock_skew",
      "replayed_jti",
      "host_rejected",
      "host_disabled",
      "host_revoked",
      "validation_failed",
    ),
  },
});

export function registerAgentEnrollment(app: Router): void {
  app.openapi(enrollRoute, async (c) => {
    const body = c.req.valid("json");
    return c.json(await enroll(c.var.deps, body, c.var.requestId), 201);
  });
  app.openapi(tokenRoute, async (c) => {
    const { assertion } = c.req.valid("json");
    return c.json(await issueAccessToken(c.var.deps, assertion), 200);
  });
}
