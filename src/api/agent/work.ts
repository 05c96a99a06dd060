import { createRoute, type z } from "@hono/zod-openapi";
import { recordHeartbeat } from "../../domain/hosts/record-liveness";
import { ackWork } from "../../domain/work/ack";
import { claimWork } from "../../domain/work/claim";
import { withIdempotency } from "../../domain/work/idempotency";
import { recordEvents } from "../../domain/work/record-events";
import { recordResult } from "../../domain/work/record-result";
import { renewLease } from "../../domain/work/renew";
import {
  ackRequestSchema,
  ackResponseSchema,
  claimRequestSchema,
  claimResponseSchema,
  eventsRequestSchema,
  renewRequestSchema,
  renewResponseSchema,
  resultRequestSchema,
  resultResponseSchema,
} from "../../protocol/agent-api";
import type { Router } from "../router";
import {
  AGENT_BASE,
  AUTH_PROBLEMS,
  agentHost,
  bearer,
  IdempotencyHeader,
  ItemParams,
  json,
  OptionalIdempotencyHeader,
  problems,
  requestFingerprint,
  TAG,
} from "./common";

const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

const claimRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/claim`,
  tags: TAG,
  security: bearer,
  summary: "Lease up to max_items signed work items with seq > cursor (one transaction)",
  request: { headers: OptionalIdempotencyHeader, ...body(claimRequestSchema) },
  responses: {
    200: json(claimResponseSchema, "Leased items (possibly none)"),
    ...problems(...AUTH_PROBLEMS, "not_ready", "idempotency_mismatch", "idempotency_in_flight"),
  },
});

const ackRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/items/{id}/ack`,
  tags: TAG,
  security: bearer,
  summary: "Verified and journaled (accepted), or rejected with a reason",
  request: { params: ItemParams, ...body(ackRequestSchema) },
  responses: {
    200: json(ackResponseSchema, "Recorded"),
    ...problems(...AUTH_PROBLEMS, "not_found", "stale_epoch", "conflict"),
  },
});

const renewRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/items/{id}/renew`,
  tags: TAG,
  security: bearer,
  summary: "Extend the lease; learn about cancellation",
  request: { params: ItemParams, ...body(renewRequestSchema) },
  responses: {
    200: json(renewResponseSchema, "Lease extended"),
    ...problems(...AUTH_PROBLEMS, "not_found", "stale_epoch", "conflict", "item_cancelled"),
  },
});

const eventsRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/items/{id}/events`,
  tags: TAG,
  security: bearer,
  summary: "Progress and log lines, batched",
  request: { params: ItemParams, headers: IdempotencyHeader, ...body(eventsRequestSchema) },
  responses: {
    200: json(resultResponseSchema.pick({ id: true }), "Stored"),
    ...problems(
      ...AUTH_PROBLEMS,
      "not_found",
      "stale_epoch",
      "conflict",
      "idempotency_mismatch",
      "idempotency_in_flight",
    ),
  },
});

const resultRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/items/{id}/result`,
  tags: TAG,
  security: bearer,
  summary: "The final outcome; replays with the same Idempotency-Key get the same answer",
  request: { params: ItemParams, headers: IdempotencyHeader, ...body(resultRequestSchema) },
  responses: {
    200: json(resultResponseSchema, "Recorded (duplicates included)"),
    ...problems(
      ...AUTH_PROBLEMS,
      "not_found",
      "stale_epoch",
      "conflict",
      "idempotency_mismatch",
      "idempotency_in_flight",
    ),
  },
});

export function registerAgentWork(app: Router): void {
  app.openapi(claimRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const input = c.req.valid("json");
    await recordHeartbeat(deps, host);
    const run = async () => ({
      status: 200,
      body: await claimWork(deps, host, { cursor: input.cursor, maxItems: input.max_items }),
    });
    const key = c.req.valid("header")["idempotency-key"];
    const out =
      key === undefined
        ? { ...(await run()), replayed: false }
        : await withIdempotency(deps, host.id, key, requestFingerprint(c, input), run);
    if (out.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(claimResponseSchema.parse(out.body), 200);
  });

  app.openapi(ackRoute, async (c) => {
    const host = await agentHost(c);
    const { id } = c.req.valid("param");
    const out = await ackWork(c.var.deps, host, id, c.req.valid("json"), c.var.requestId);
    return c.json(out, 200);
  });

  app.openapi(renewRoute, async (c) => {
    const host = await agentHost(c);
    const { id } = c.req.valid("param");
    return c.json(await renewLease(c.var.deps, host, id, c.req.valid("json")), 200);
  });

  app.openapi(eventsRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const out = await withIdempotency(
      deps,
      host.id,
      c.req.valid("header")["idempotency-key"],
      requestFingerprint(c, input),
      async (storeAnswer) => {
        const answer = { status: 200, body: { id } };
        await recordEvents(deps, host, id, input, [storeAnswer(answer)]);
        return answer;
      },
    );
    if (out.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(resultResponseSchema.pick({ id: true }).parse(out.body), 200);
  });

  app.openapi(resultRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const { id } = c.req.valid("param");
    const input = c.req.valid("json");
    const out = await withIdempotency(
      deps,
      host.id,
      c.req.valid("header")["idempotency-key"],
      requestFingerprint(c, input),
      async (storeAnswer) => ({
        status: 200,
        body: await recordResult(deps, host, id, input, (body) => [
          storeAnswer({ status: 200, body }),
        ]),
      }),
    );
    if (out.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(resultResponseSchema.parse(out.body), 200);
  });
}
