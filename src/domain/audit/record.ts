import { sql } from "drizzle-orm";
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

function auditValues(sc: ServiceContext, input: AuditInput) {
  const { actor } = sc;
  return {
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
    detail: {
      ...(actor.kind === "api_token" ? { onBehalfOf: actor.createdBy } : {}),
      ...input.detail,
    },
  } satisfies typeof auditEvents.$inferInsert;
}

/** The audit row for a mutation, to be committed in the same batch as the mutation itself. */
export function auditStatement(sc: ServiceContext, input: AuditInput): Statement {
  return sc.deps.db.insert(auditEvents).values(auditValues(sc, input));
}

/**
 * The audit row for a guarded mutation: written only if the batch's previous statement changed a
 * row (SQLite's `changes()`), so a change another request made first is not audited twice.
 */
export function auditIfChangedStatement(sc: ServiceContext, input: AuditInput): Statement {
  const v = auditValues(sc, input);
  return sc.deps.db.run(sql`
    INSERT INTO ${auditEvents} (id, at, actor_type, actor_id, action, target_type, target_id,
      org_id, outcome, request_id, detail)
    SELECT ${v.id}, ${v.at}, ${v.actorType}, ${v.actorId}, ${v.action}, ${v.targetType},
      ${v.targetId}, ${v.orgId}, ${v.outcome}, ${v.requestId}, ${JSON.stringify(v.detail)}
    WHERE changes() = 1`);
}

/** Records an event on its own: refusals and failures, which have no mutation to ride along with. */
export async function recordAudit(sc: ServiceContext, input: AuditInput): Promise<void> {
  await auditStatement(sc, input);
}
