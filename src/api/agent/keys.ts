import { createRoute } from "@hono/zod-openapi";
import { rotateAgentKey } from "../../domain/hosts/rotate-key";
import { keyRotationRequestSchema, keyRotationResponseSchema } from "../../protocol/agent-api";
import type { Router } from "../router";
import { AGENT_BASE, AUTH_PROBLEMS, agentHost, bearer, json, problems, TAG } from "./common";

const keysRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/keys`,
  tags: TAG,
  security: bearer,
  summary:
    "Rotate the agent's key (authenticated with the current key; the old one overlaps briefly)",
  request: {
    body: { required: true, content: { "application/json": { schema: keyRotationRequestSchema } } },
  },
  responses: {
    200: json(keyRotationResponseSchema, "The new key is the host's key"),
    ...problems(...AUTH_PROBLEMS, "conflict", "clock_skew"),
  },
});

/** Agent key rotation (design §2.8). */
export function registerAgentKeys(app: Router): void {
  app.openapi(keysRoute, async (c) => {
    const host = await agentHost(c);
    const out = await rotateAgentKey(c.var.deps, host, c.req.valid("json"), c.var.requestId);
    return c.json(out, 200);
  });
}
