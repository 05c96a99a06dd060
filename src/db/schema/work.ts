import { sql } from "drizzle-orm";
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";
import { hosts } from "./hosts";

/** Design §2.6; `stalled` is not stored: it is a leased state whose lease has lapsed. */
export const WORK_STATES = [
  "queued",
  "leased",
  "accepted",
  "running",
  "succeeded",
  "failed",
  "rejected",
  "superseded",
  "expired",
  "cancelled",
] as const;
export type WorkState = (typeof WORK_STATES)[number];
export const ACTIVE_WORK_STATES = ["leased", "accepted", "running"] as const;
export const TERMINAL_WORK_STATES = [
  "succeeded",
  "failed",
  "rejected",
  "superseded",
  "expired",
  "cancelled",
] as const;

/**
 * Work for one host, in `seq` order. Items are host-bound: a lapsed lease is re-offered to the same
 * host with `lease_epoch` + 1, never to another. Times are UTC milliseconds.
 */
export const workItems = sqliteTable(
  "work_items",
  {
    id: text("id").primaryKey(),
    hostId: text("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    /** Unique per host, assigned at enqueue; gives delivery order. */
    seq: integer("seq").notNull(),
    tenant: text("tenant"),
    op: text("op").notNull(),
    opV: integer("op_v").notNull(),
    resourceKind: text("resource_kind").notNull(),
    resourceId: text("resource_id").notNull(),
    resourceUid: text("resource_uid").notNull(),
    gen: integer("gen").notNull(),
    after: text("after", { mode: "json" }).$type<string[]>().notNull(),
    /** Stable across attempts and re-issues: keys the agent's execution journal. */
    idem: text("idem").notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    state: text("state", { enum: WORK_STATES }).notNull(),
    /** Number of issuances (claims) so far. */
    attempt: integer("attempt").notNull().default(0),
    /** Fencing epoch, bumped by every claim. */
    leaseEpoch: integer("lease_epoch").notNull().default(0),
    /** Who holds the lease: the host id (items never move between hosts). */
    leaseHolder: text("lease_holder"),
    leaseExpiresAt: integer("lease_expires_at"),
    /** The `jti` of the last issuance. */
    lastJti: text("last_jti"),
    /** Deadline to start (ms). */
    startBy: integer("start_by").notNull(),
    timeoutS: integer("timeout_s").notNull(),
    cancelRequestedAt: integer("cancel_requested_at"),
    rejectReason: text("reject_reason"),
    outcome: text("outcome"),
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    late: integer("late", { mode: "boolean" }).notNull().default(false),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    uniqueIndex("work_items_host_seq_unique").on(t.hostId, t.seq),
    index("work_items_host_state_idx").on(t.hostId, t.state, t.seq),
    index("work_items_idem_idx").on(t.hostId, t.idem),
    // Open items only, in seq order: what claims and long polls look for, however long the
    // host's history grows.
    index("work_items_open_idx")
      .on(t.hostId, t.seq)
      .where(sql`${t.state} IN ('queued', 'leased', 'accepted', 'running')`),
    // Cancellations not settled yet: few rows, read by every periodic run.
    index("work_items_cancel_pending_idx")
      .on(t.leaseExpiresAt)
      .where(
        sql`${t.cancelRequestedAt} IS NOT NULL AND ${t.state} IN ('queued', 'leased', 'accepted', 'running')`,
      ),
  ],
);

/**
 * Agent → CP idempotency (IETF draft-07): `(host_id, key)` → request hash and stored response.
 * `response_status` is null while the first request is in flight.
 */
export const agentIdempotencyKeys = sqliteTable(
  "agent_idempotency_keys",
  {
    hostId: text("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** SHA-256 of method, path and body. */
    requestHash: text("request_hash").notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.hostId, t.key] }), index("agent_idem_exp_idx").on(t.expiresAt)],
);

export const WORK_EVENT_KINDS = [
  "enqueued",
  "claimed",
  "accepted",
  "rejected",
  "renewed",
  "progress",
  "log",
  "result",
  "cancel_requested",
  "expired",
  "security",
] as const;
export type WorkEventKind = (typeof WORK_EVENT_KINDS)[number];

/** Everything that happened to a work item, in order (progress and log lines included). */
export const workEvents = sqliteTable(
  "work_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    itemId: text("item_id")
      .notNull()
      .references(() => workItems.id, { onDelete: "cascade" }),
    hostId: text("host_id").notNull(),
    at: integer("at").notNull(),
    kind: text("kind", { enum: WORK_EVENT_KINDS }).notNull(),
    leaseEpoch: integer("lease_epoch"),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index("work_events_item_idx").on(t.itemId, t.id)],
);
