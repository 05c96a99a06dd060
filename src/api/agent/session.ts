import { createRoute, z } from "@hono/zod-openapi";
import type { Deps } from "../../deps";
import { recordHeartbeat, recordStatus } from "../../domain/hosts/record-liveness";
import { applyInventory, inventoryEntries } from "../../domain/vms/inventory";
import { withoutTelemetry } from "../../domain/vms/telemetry-report";
import { awaitCancel } from "../../domain/work/await-cancel";
import { hasClaimable, latestSeq } from "../../domain/work/claim";
import { ProblemError } from "../../http/problem";
import {
  enrollmentStatusSchema,
  heartbeatRequestSchema,
  livenessResponseSchema,
  MAX_WAIT_S,
  statusRequestSchema,
  trustResponseSchema,
  waitResponseSchema,
} from "../../protocol/agent-api";
import type { Signer } from "../../signing/signer";
import type { Router } from "../router";
import {
  AGENT_BASE,
  AUTH_PROBLEMS,
  agentHost,
  bearer,
  ItemParams,
  json,
  problems,
  TAG,
} from "./common";

const enrollmentRoute = createRoute({
  method: "get",
  path: `${AGENT_BASE}/enrollment`,
  tags: TAG,
  security: bearer,
  summary: "Wait for approval: 200 once approved (with trust document and intervals)",
  responses: {
    200: json(enrollmentStatusSchema, "Approved"),
    ...problems(...AUTH_PROBLEMS, "not_ready"),
  },
});

const trustRoute = createRoute({
  method: "get",
  path: `${AGENT_BASE}/trust`,
  tags: TAG,
  security: bearer,
  summary: "The trust bundle: the control plane's work-item signing keys, signed by the trust root",
  responses: {
    200: json(trustResponseSchema, "Current trust bundle (compact JWS)"),
    304: { description: "Unchanged (If-None-Match)" },
    ...problems(...AUTH_PROBLEMS, "not_ready"),
  },
});

const heartbeatRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/heartbeat`,
  tags: TAG,
  security: bearer,
  summary: "Liveness (every 10 s)",
  request: {
    body: { required: true, content: { "application/json": { schema: heartbeatRequestSchema } } },
  },
  responses: { 200: json(livenessResponseSchema, "Recorded"), ...problems(...AUTH_PROBLEMS) },
});

const statusRoute = createRoute({
  method: "post",
  path: `${AGENT_BASE}/status`,
  tags: TAG,
  security: bearer,
  summary: "Full status: health, capacity, usage, inventory, versions, clock offset (≥ every 60 s)",
  request: {
    body: { required: true, content: { "application/json": { schema: statusRequestSchema } } },
  },
  responses: { 200: json(livenessResponseSchema, "Recorded"), ...problems(...AUTH_PROBLEMS) },
});

const waitRoute = createRoute({
  method: "get",
  path: `${AGENT_BASE}/wait`,
  tags: TAG,
  security: bearer,
  summary:
    "Long poll (≤ 25 s): answers as soon as work above `cursor` exists, or an item the host holds is cancelled",
  request: {
    query: z.object({
      cursor: z.coerce.number().int().nonnegative(),
      timeout: z.coerce.number().int().min(0).max(MAX_WAIT_S).default(MAX_WAIT_S),
      cancel_of: ItemParams.shape.id.optional().openapi({
        description:
          "Answer only when this item (one the host runs) is cancelled, at once if it already is; no ring, `cursor` ignored. For an agent whose claim loop waits for that item",
      }),
    }),
  },
  responses: {
    200: json(
      waitResponseSchema,
      "`ring`: work exists, claim now. `cancel`: an item this host holds or runs was cancelled; renew it now, its answer says so",
    ),
    204: { description: "Nothing yet; wait again" },
    ...problems(...AUTH_PROBLEMS, "not_found"),
  },
});

const INTERVALS = { heartbeat_s: 10, status_s: 60, claim_s: 60, renew_s: 20 };

export function registerAgentSession(app: Router): void {
  app.openapi(enrollmentRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const signer = readySigner(deps);
    return c.json(
      {
        status: "approved" as const,
        host_id: host.id,
        trust: signer.trustBundle(),
        intervals: { ...INTERVALS, lease_s: deps.config.agent.leaseMs / 1000 },
        server_time_ms: deps.clock.now(),
      },
      200,
    );
  });

  app.openapi(trustRoute, async (c) => {
    const { deps } = c.var;
    await agentHost(c, true);
    const signer = readySigner(deps);
    const etag = `"trust-${signer.trustDocument().version}"`;
    c.header("ETag", etag);
    if (c.req.header("if-none-match") === etag) return c.body(null, 304);
    return c.json({ trust: signer.trustBundle() }, 200);
  });

  app.openapi(heartbeatRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const body = c.req.valid("json");
    await recordHeartbeat(deps, host, { clockOffsetMs: body.clock_offset_ms });
    return c.json(liveness(c.var.deps), 200);
  });

  app.openapi(statusRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const status = c.req.valid("json");
    // Telemetry has its own table; the host's stored status stays small.
    await recordStatus(deps, host, {
      ...status,
      inventory: status.inventory.map(withoutTelemetry),
    });
    await applyInventory(deps, host.id, inventoryEntries(status.inventory));
    return c.json(liveness(deps), 200);
  });

  app.openapi(waitRoute, async (c) => {
    const { deps } = c.var;
    const host = await agentHost(c);
    const { cursor, timeout, cancel_of: cancelOf } = c.req.valid("query");
    await recordHeartbeat(deps, host);
    if (cancelOf !== undefined) {
      const cancelled = await awaitCancel(
        deps,
        host.id,
        cancelOf,
        timeout * 1000,
        c.req.raw.signal,
      );
      if (cancelled) return c.json({ cancel: true as const, item_id: cancelOf }, 200);
      return c.body(null, 204);
    }
    // The database decides first, so a doorbell lost in a restart cannot hide existing work.
    const pending = await hasClaimable(deps, host.id, cursor);
    if (pending > 0) return c.json({ ring: true as const, latest_seq: pending }, 200);
    // Nothing to claim: wait for work queued after the latest item. With the agent's cursor (reset
    // to 0 at each rescan) the doorbell's remembered seq would answer at once, again and again.
    const after = Math.max(cursor, await latestSeq(deps, host.id));
    const news = await deps.wakeup?.wait(host.id, after, timeout * 1000, c.req.raw.signal);
    if (news?.kind === "ring") return c.json({ ring: true as const, latest_seq: news.seq }, 200);
    if (news?.kind === "cancel")
      return c.json({ cancel: true as const, item_id: news.itemId }, 200);
    return c.body(null, 204);
  });
}

/** The signer, or 503: without a signing key and trust root there is nothing to trust or run. */
export function readySigner(deps: Deps): Signer {
  if (!deps.signer) {
    throw new ProblemError({
      code: "not_ready",
      detail: "Work-item signing is not configured; the operator can find the reason in the logs.",
    });
  }
  return deps.signer;
}

function liveness(deps: {
  clock: { now(): number };
  signer?: { trustDocument(): { version: number } };
}) {
  return {
    server_time_ms: deps.clock.now(),
    trust_version: deps.signer?.trustDocument().version ?? 0,
  };
}
