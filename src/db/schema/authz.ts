import { index, integer, primaryKey, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";

/**
 * Relationship tuples of the embedded authorization engine (`entity#relation@subject`). A subject
 * without a relation stores `subject_relation` = "" so the full-tuple unique constraint holds.
 */
export const authzTuples = sqliteTable(
  "authz_tuples",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    relation: text("relation").notNull(),
    subjectType: text("subject_type").notNull(),
    subjectId: text("subject_id").notNull(),
    subjectRelation: text("subject_relation").notNull().default(""),
    /** UTC milliseconds. */
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    // Also the forward index: entity#relation → subjects (check).
    unique("authz_tuples_tuple_unique").on(
      t.entityType,
      t.entityId,
      t.relation,
      t.subjectType,
      t.subjectId,
      t.subjectRelation,
    ),
    // Reverse index, covering: subjects → entities (lookupEntity).
    index("authz_tuples_reverse_idx").on(
      t.entityType,
      t.relation,
      t.subjectType,
      t.subjectId,
      t.subjectRelation,
      t.entityId,
    ),
    // By subject alone: listing ids of a type, deleting everything about a subject.
    index("authz_tuples_subject_idx").on(t.subjectType, t.subjectId),
  ],
);

/** Attribute values (JSON) per entity, for boolean leaves and CEL rules. */
export const authzAttributes = sqliteTable(
  "authz_attributes",
  {
    entityType: text("entity_type").notNull(),
    attribute: text("attribute").notNull(),
    entityId: text("entity_id").notNull(),
    value: text("value", { mode: "json" }).notNull(),
    /** UTC milliseconds. */
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.attribute, t.entityId] })],
);

/**
 * Relationship changes waiting to reach an external Permify server. Written in the same batch as
 * the local tuples (and the resource they describe); drained in order, with retries, right after
 * the commit and by a periodic job, so Permify converges and never silently diverges.
 */
export const authzOutbox = sqliteTable(
  "authz_outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    op: text("op", { enum: ["write", "delete", "attribute", "reset"] }).notNull(),
    /**
     * `write`/`delete`: one Tuple; `attribute`: one Attribute (migration 0005's triggers);
     * `reset`: `{entityTypes}` whose relationships Permify drops (sync turned on, see outbox.ts).
     */
    payload: text("payload", { mode: "json" }).$type<unknown>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** UTC milliseconds; the drainer skips rows until then (backoff). */
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("authz_outbox_next_idx").on(t.nextAttemptAt, t.id)],
);
