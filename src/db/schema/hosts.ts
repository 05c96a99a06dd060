import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { organizations } from "./tenancy";

export const HOST_STATES = ["pending", "approved", "rejected", "disabled", "revoked"] as const;
export type HostState = (typeof HOST_STATES)[number];

/** What the agent itself reports in `status`; Unreachable/Offline are derived from liveness. */
export const REPORTED_HEALTH = ["discovering", "healthy", "warning", "critical"] as const;
export type ReportedHealth = (typeof REPORTED_HEALTH)[number];

/** Liveness as last recorded by the periodic sweep, so its transitions are audited once each. */
export const HOST_LIVENESS = ["online", "unreachable", "offline"] as const;
export type HostLiveness = (typeof HOST_LIVENESS)[number];

/**
 * Single-purpose secrets that let a new machine enroll into an organization. Only a SHA-256 of
 * the 256-bit secret is stored; the secret is shown once. Times are UTC milliseconds.
 */
export const enrollmentTokens = sqliteTable(
  "enrollment_tokens",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    /** The first characters of the secret, so operators can tell tokens apart. */
    prefix: text("prefix").notNull(),
    description: text("description").notNull(),
    /** Where enrolled hosts land (e.g. a site or cluster label); copied onto each host. */
    scope: text("scope").notNull(),
    maxUses: integer("max_uses").notNull(),
    uses: integer("uses").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("enrollment_tokens_org_idx").on(t.orgId)],
);

/**
 * Hypervisor hosts. A host is one agent identity: an Ed25519 public key the agent generated (the
 * control plane never sees private keys). Re-enrolling a known machine creates a new pending row
 * that names the host it would replace; the old identity keeps working until an operator decides.
 */
export const hosts = sqliteTable(
  "hosts",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    machineId: text("machine_id").notNull(),
    scope: text("scope").notNull(),
    state: text("state", { enum: HOST_STATES }).notNull(),
    /** Public JWK (OKP/Ed25519) as JSON. */
    publicJwk: text("public_jwk", { mode: "json" }).$type<Record<string, string>>().notNull(),
    /** RFC 7638 thumbprint of `public_jwk`. */
    keyThumbprint: text("key_thumbprint").notNull().unique(),
    /**
     * The key an agent rotated away from (`POST /api/v1/agent/keys`): it still signs token
     * assertions until `previous_key_not_after`, so an agent that lost the answer can recover.
     */
    previousPublicJwk: text("previous_public_jwk", { mode: "json" }).$type<
      Record<string, string>
    >(),
    previousKeyThumbprint: text("previous_key_thumbprint"),
    previousKeyNotAfter: integer("previous_key_not_after"),
    /** Host facts reported at enrollment (hostname, CPUs, memory, disk, kernel, kvm, versions). */
    facts: text("facts", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    enrollmentTokenId: text("enrollment_token_id").notNull(),
    /** Set on a re-enrollment: the existing host with the same machine id. */
    replacesHostId: text("replaces_host_id"),
    /** Operator drain: no new work is placed (the agent keeps running what it has). */
    maintenance: integer("maintenance", { mode: "boolean" }).notNull().default(false),
    reportedHealth: text("reported_health", { enum: REPORTED_HEALTH })
      .notNull()
      .default("discovering"),
    /** The last `status` body (inventory, capacity, versions, clock offset, backlog). */
    status: text("status", { mode: "json" }).$type<Record<string, unknown>>(),
    clockOffsetMs: integer("clock_offset_ms"),
    lastSeenAt: integer("last_seen_at"),
    lastStatusAt: integer("last_status_at"),
    liveness: text("liveness", { enum: HOST_LIVENESS }).notNull().default("online"),
    livenessChangedAt: integer("liveness_changed_at"),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("hosts_org_idx").on(t.orgId),
    index("hosts_org_machine_idx").on(t.orgId, t.machineId),
  ],
);

/** JWT-bearer assertion ids already used at the token endpoint (RFC 7523 §3 replay cache). */
export const agentAssertionJtis = sqliteTable(
  "agent_assertion_jtis",
  {
    hostId: text("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    jti: text("jti").notNull(),
    /** The assertion's `exp` (ms); the row may be pruned after it. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.hostId, t.jti] }), index("agent_jti_exp_idx").on(t.expiresAt)],
);

/**
 * Short-lived opaque access tokens issued for an assertion. Only the SHA-256 is stored; every
 * agent call looks the token up together with its host, so a revoked host is refused at once.
 */
export const agentAccessTokens = sqliteTable(
  "agent_access_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    hostId: text("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    index("agent_access_tokens_host_idx").on(t.hostId),
    index("agent_access_tokens_exp_idx").on(t.expiresAt),
  ],
);
