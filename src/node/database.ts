import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createClient } from "@libsql/client";
import { createDatabase, type Database } from "../db/database";

/**
 * Opens the database on Node: `file:` URLs use the embedded libSQL engine (the directory is created
 * on first use); `http(s)://` and `libsql://` URLs talk to sqld/Turso or the local dev endpoint.
 */
export function openNodeDatabase(url: string, authToken?: string): Database {
  if (url.startsWith("file:")) {
    const path = url.slice("file:".length);
    if (path !== "" && !path.startsWith(":memory:")) mkdirSync(dirname(path), { recursive: true });
  }
  return createDatabase(createClient(authToken === undefined ? { url } : { url, authToken }));
}
