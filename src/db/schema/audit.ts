import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Who did what to which target, when, from which request, and how it ended. Append-only. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
    actorType: text("actor_type", { enum: ["user", "api_token", "host", "system"] }).notNull(),
    actorId: text("actor_id").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    /** The organization the target belongs to, when it belongs to one (for per-org audit pages). */
    orgId: text("org_id"),
    outcome: text("outcome", { enum: ["success", "failure", "denied"] }).notNull(),
    requestId: text("request_id").notNull(),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    index("audit_events_org_at_idx").on(t.orgId, t.at),
    index("audit_events_at_idx").on(t.at),
  ],
);
