import { sql } from "drizzle-orm";
import journal from "../../migrations/meta/_journal.json" with { type: "json" };
import type { Database } from "./database";

/**
 * Which drizzle-kit migrations the database still lacks. The journal is bundled into the app (it is
 * small), so this works on Workers where the migrations folder cannot be read at run time.
 * drizzle's migrator records each applied migration with `created_at` = the journal entry's `when`.
 */
export type MigrationStatus = { applied: number; expected: number; pending: string[] };

const MIGRATIONS_TABLE = "__drizzle_migrations";

export async function migrationStatus(db: Database): Promise<MigrationStatus> {
  const table = await db.all<{ name: string }>(
    sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATIONS_TABLE}`,
  );
  let latest = 0;
  let applied = 0;
  if (table.length > 0) {
    const rows = await db.all<{ latest: number | null; applied: number }>(
      sql`SELECT max(CAST(created_at AS INTEGER)) AS latest, count(*) AS applied FROM ${sql.identifier(MIGRATIONS_TABLE)}`,
    );
    latest = Number(rows[0]?.latest ?? 0);
    applied = Number(rows[0]?.applied ?? 0);
  }
  const pending = journal.entries.filter((e) => e.when > latest).map((e) => e.tag);
  return { applied, expected: journal.entries.length, pending };
}
