import { auditEvents } from "../../db/schema";
import type { Deps } from "../../deps";
import type { Statement } from "../context";

/** An audit row whose actor is a host (the agent acting with its own key). */
export function hostAuditStatement(
  deps: Deps,
  input: {
    hostId: string;
    orgId: string;
    requestId: string;
    action: string;
    target: { type: string; id: string };
    outcome?: "success" | "failure" | "denied";
    detail?: Record<string, unknown>;
  },
): Statement {
  return deps.db.insert(auditEvents).values({
    id: deps.ids.next("audit"),
    at: deps.clock.now(),
    actorType: "host",
    actorId: input.hostId,
    action: input.action,
    targetType: input.target.type,
    targetId: input.target.id,
    orgId: input.orgId,
    outcome: input.outcome ?? "success",
    requestId: input.requestId,
    detail: input.detail ?? {},
  });
}
