import type { Client } from "@libsql/client/web";
import type { LibSQLDatabase } from "drizzle-orm/libsql/driver-core";
// The web build: the Node one imports @libsql/client, which cannot be bundled for workerd.
import { drizzle } from "drizzle-orm/libsql/web";
import * as schema from "./schema";

/** The database seam: drizzle over a libSQL client (web client on Workers, `file:`/http on Node). */
export type Database = LibSQLDatabase<typeof schema> & { $client: Client };

/** Wraps a libSQL client; the entry point picks the client for its runtime. */
export function createDatabase(client: Client): Database {
  return drizzle(client, { schema });
}
