import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** People. No passwords: they prove who they are with passkeys. Times are UTC milliseconds. */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  /** Lower-cased; the username of username-first sign-in. */
  email: text("email").notNull().unique(),
  displayName: text("display_name").notNull(),
  isPlatformAdmin: integer("is_platform_admin", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** WebAuthn credentials; a user has one or more. */
export const passkeys = sqliteTable(
  "passkeys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The credential id (base64url) the authenticator reports. */
    credentialId: text("credential_id").notNull().unique(),
    /** COSE public key, base64url. */
    publicKey: text("public_key").notNull(),
    signCount: integer("sign_count").notNull(),
    transports: text("transports", { mode: "json" }).$type<string[]>().notNull(),
    deviceType: text("device_type", { enum: ["singleDevice", "multiDevice"] }).notNull(),
    backedUp: integer("backed_up", { mode: "boolean" }).notNull(),
    aaguid: text("aaguid").notNull(),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
  },
  (t) => [index("passkeys_user_idx").on(t.userId)],
);

/**
 * Outstanding ceremony challenges. Consumed with DELETE … RETURNING, so each is used at most once;
 * `context` carries what the ceremony needs at finish time (e.g. the invitation being accepted).
 */
export const webauthnChallenges = sqliteTable("webauthn_challenges", {
  id: text("id").primaryKey(),
  challenge: text("challenge").notNull().unique(),
  purpose: text("purpose", { enum: ["register", "authenticate", "add_passkey"] }).notNull(),
  userId: text("user_id"),
  context: text("context", { mode: "json" }).$type<Record<string, string>>().notNull(),
  expiresAt: integer("expires_at").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Browser sessions. Only a SHA-256 of the cookie value is stored. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Sent back by htmx in a header and by forms in a field; compared in constant time. */
    csrfToken: text("csrf_token").notNull(),
    userAgent: text("user_agent").notNull(),
    ip: text("ip").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    /** Absolute expiry; the idle expiry is `last_seen_at` + the configured idle time. */
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** Fixed-window counters for rate limits, shared by every isolate and process. */
export const rateLimits = sqliteTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  count: integer("count").notNull(),
});
