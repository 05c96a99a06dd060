/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL (default: the local file used by
 * `npm start`). Works for file:, http(s):// (sqld, the dev endpoint) and libsql:// (Turso) URLs.
 */
import { ConfigError, parseConfig } from "../src/config";
import { openNodeDatabase } from "../src/node/database";
import { applyMigrations } from "../src/node/migrate";

try {
  const config = parseConfig({ DATABASE_URL: "file:.data/strato.db", ...process.env }, "node");
  const db = openNodeDatabase(config.databaseUrl, config.databaseAuthToken);
  await applyMigrations(db);
  db.$client.close();
  console.log(`Migrations applied to ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//…@")}`);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
