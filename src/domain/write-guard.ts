import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/database";
import { failedWith } from "../db/errors";
import { writeGuards } from "../db/schema";
import type { Statement } from "./context";
import { ServiceError } from "./errors";

/**
 * Placed right after a guarded UPDATE in a batch (one whose WHERE names the state it was read in):
 * if that UPDATE changed no row, because another request changed the row first, the insert fails
 * the `write_guards` CHECK and the whole batch rolls back. So the effects that follow it (a VM's
 * state, an operation, an audit event) are written only with the change they belong to. SQLite's
 * `changes()` is the previous statement's count, on the same connection (also over libSQL HTTP).
 */
export function abortUnlessChanged(db: Database): Statement {
  return abortIf(db, sql`changes() = 0`);
}

/**
 * Placed after the writes of a batch: if `condition` holds once they are in (a total over its
 * limit because another request got in first), the batch rolls back whole, as `isStaleWrite`.
 */
export function abortIf(db: Database, condition: SQL): Statement {
  return db.run(sql`INSERT INTO ${writeGuards} (reason) SELECT 'stale' WHERE ${condition}`);
}

/** True for the error of a batch that `abortUnlessChanged` rolled back. */
export function isStaleWrite(err: unknown): boolean {
  return failedWith(err, /CHECK constraint failed: stale_write/i);
}

/**
 * Runs `attempt` and, if its batch lost a race (`isStaleWrite`), once more: the second run reads
 * the row again and answers from what it finds now (usually a clear refusal). A second loss is a
 * 409 the caller may retry.
 */
export async function retryStaleOnce<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isStaleWrite(err)) throw err;
      if (tries >= 1) {
        throw new ServiceError("CONFLICT", "Another request changed this at the same time; retry.");
      }
    }
  }
}
