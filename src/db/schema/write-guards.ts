import { sql } from "drizzle-orm";
import { check, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Never holds a row: a batch inserts into it to abort itself (the CHECK fails and the whole batch
 * rolls back) when a guarded write before it changed nothing, because another request got there
 * first. See src/domain/write-guard.ts.
 */
export const writeGuards = sqliteTable("write_guards", { reason: text("reason").notNull() }, () => [
  check("stale_write", sql`0`),
]);
