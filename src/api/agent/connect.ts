import { createRoute, z } from "@hono/zod-openapi";
import { recordHeartbeat } from "../../domain/hosts/record-liveness";
import { ProblemError, problemResponse } from "../../http/problem";
import { bootIdSchema, DOORBELL_PATH } from "../../protocol/doorbell";
import type { Router } from "../router";
import { AGENT_BASE, AUTH_PROBLEMS, agentHost, bearer, problems, TAG } from "./common";

const connectRoute = createRoute({
  method: "get",
  path: `${AGENT_BASE}${DOORBELL_PATH}`,
  tags: TAG,
  security: bearer,
  summary: "The doorbell: a WebSocket on which the control plane rings when work exists",
  description:
    'Send `Upgrade: websocket`. The server sends `{"type":"ring","latest_seq":N}`, after which the agent claims; the agent sends the text `ping` every 10 s and gets `pong`. One socket per host: the same `boot_id` replaces its older socket, another `boot_id` while the older socket is live gets 409 `session_conflict`. Where WebSockets fail, long-poll `GET /wait`.',
  request: { query: z.object({ boot_id: bootIdSchema }) },
  responses: {
    101: { description: "Switching Protocols: the doorbell socket is open" },
    ...problems(...AUTH_PROBLEMS, "upgrade_required", "session_conflict", "not_ready"),
  },
});

export function registerAgentDoorbell(app: Router): void {
  app.openapi(connectRoute, async (c) => {
    const { deps } = c.var;
    // Same checks as every work endpoint: pending, rejected, disabled, revoked never get a socket.
    const host = await agentHost(c);
    const { boot_id: bootId } = c.req.valid("query");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      c.header("Upgrade", "websocket");
      return problemResponse(c, {
        code: "upgrade_required",
        detail: "This endpoint is a WebSocket: send Upgrade: websocket (or long-poll GET /wait).",
      });
    }
    const connect = deps.wakeup?.connect;
    if (!connect) {
      throw new ProblemError({
        code: "not_ready",
        detail: "This server holds no doorbell sockets; long-poll GET /api/v1/agent/wait instead.",
      });
    }
    await recordHeartbeat(deps, host);
    let result: Awaited<ReturnType<typeof connect>>;
    try {
      result = await connect(c.req.raw, host.id, bootId);
    } catch (error) {
      // The doorbell (a Durable Object) failed: the agent falls back to long polling.
      deps.log.error("doorbell connect failed", { hostId: host.id, error: String(error) });
      throw new ProblemError({
        code: "not_ready",
        detail: "The doorbell is unavailable right now; long-poll GET /api/v1/agent/wait instead.",
      });
    }
    if (!result.accepted) {
      deps.log.warn("security: doorbell session conflict (a second boot of this host)", {
        hostId: host.id,
        bootId,
        alert: true,
      });
      throw new ProblemError({
        code: "session_conflict",
        detail:
          "Another boot of this host holds the doorbell socket (a cloned host image?); retry in 30 s.",
      });
    }
    return result.response;
  });
}
