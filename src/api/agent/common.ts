import { z } from "@hono/zod-openapi";
import type { AgentHost } from "../../domain/hosts/authenticate-agent";
import { authenticateAgent } from "../../domain/hosts/authenticate-agent";
import type { Ctx } from "../../http/env";
import type { ProblemCode } from "../../http/problem";
import { problemResponses } from "../schemas";

export const AGENT_BASE = "/api/v1/agent";
export const TAG = ["agent"];

/** The access token's host; pending hosts only where the endpoint allows them. */
export function agentHost(c: Ctx, allowPending = false): Promise<AgentHost> {
  return authenticateAgent(c.var.deps, c.req.header("authorization"), { allowPending });
}

/** Problems every authenticated work endpoint may answer. */
export const AUTH_PROBLEMS: ProblemCode[] = [
  "unauthenticated",
  "pending_approval",
  "host_rejected",
  "host_disabled",
  "host_revoked",
  "validation_failed",
];

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function problems(...codes: ProblemCode[]) {
  return problemResponses(...codes);
}

export const ItemParams = z.object({ id: z.string().regex(/^wi_[0-9a-z]{26}$/) });

export const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/),
});
export const OptionalIdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/)
    .optional(),
});

/** What the Idempotency-Key hash covers: method, path and the request body as parsed. */
export function requestFingerprint(c: Ctx, body: unknown): string {
  return `${c.req.method} ${c.req.path}\n${JSON.stringify(body)}`;
}

export const bearer = [{ agentAccessToken: [] }];
