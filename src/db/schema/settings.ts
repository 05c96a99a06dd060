import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Installation-wide settings as JSON values under stable keys (e.g. the sign-up policy). Per-tenant
 * data lives in its own tables; this is only for things there is exactly one of.
 */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  /** UTC milliseconds. */
  updatedAt: integer("updated_at").notNull(),
});
