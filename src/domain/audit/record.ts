import { auditEvents } from "../../db/schema";
import { type Actor, actorId, type ServiceContext, type Statement } from "../context";

export type AuditInput = {
  action: string;
  target: { type: string; id: string };
  orgId?: string | null;
  outcome?: "success" | "failure" | "denied";
  detail?: Record<string, unknown>;
};

function actorType(actor: Actor): "user" | "api_token" | "host" | "system" {
  return actor.kind;
}

/** The audit row for a mutation, to be committed in the same batch as the mutation itself. */
export function auditStatement(sc: ServiceContext, input: AuditInput): Statement {
  const { actor } = sc;
  const detail = {
    ...(actor.kind === "api_token" ? { onBehalfOf: actor.createdBy } : {}),
    ...input.detail,
  };
  return sc.deps.db.insert(auditEvents).values({
    id: sc.deps.ids.next("audit"),
    at: sc.deps.clock.now(),
    actorType: actorType(actor),
    actorId: actorId(actor),
    action: input.action,
    targetType: input.target.type,
    targetId: input.target.id,
    orgId: input.orgId ?? null,
    outcome: input.outcome ?? "success",
    requestId: sc.requestId,
    detail,
  });
}

/** Records an event on its own: refusals and failures, which have no mutation to ride along with. */
export async function recordAudit(sc: ServiceContext, input: AuditInput): Promise<void> {
  await auditStatement(sc, input);
}
