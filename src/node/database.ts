import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createClient } from "@libsql/client";
import { createDatabase, type Database } from "../db/database";

/**
 * How long a write to a local file waits for another writer (the server, the CLI, a second
 * connection of the pool) before SQLITE_BUSY; without it a busy moment is a failed request.
 */
const BUSY_TIMEOUT_MS = 5_000;

/** The path of a `file:` URL naming a file on disk; undefined for in-memory and remote databases. */
function localFilePath(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  const path = url.slice("file:".length);
  return path === "" || path.startsWith(":memory:") ? undefined : path;
}

/**
 * Opens the database on Node: `file:` URLs use the embedded libSQL engine (the directory is created
 * on first use); `http(s)://` and `libsql://` URLs talk to sqld/Turso or the local dev endpoint.
 */
export function openNodeDatabase(url: string, authToken?: string): Database {
  const path = localFilePath(url);
  if (path !== undefined) mkdirSync(dirname(path), { recursive: true });
  return createDatabase(
    createClient({
      url,
      timeout: BUSY_TIMEOUT_MS,
      ...(authToken === undefined ? {} : { authToken }),
    }),
  );
}

/**
 * A local database file runs in WAL mode, as sqld runs its own: a commit appends to the log and
 * syncs it once instead of a rollback journal's several syncs, and readers do not wait for the
 * writer. The mode is kept in the file, so every later connection (the CLI, tests) uses it too.
 */
export async function useWriteAheadLog(db: Database, url: string): Promise<void> {
  if (localFilePath(url) === undefined) return;
  await db.$client.execute("PRAGMA journal_mode = WAL");
}
