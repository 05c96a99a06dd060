import { serve } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { z } from "zod";
import { createApp } from "../app";
import { ConfigError, parseConfig, parseEnv } from "../config";
import { systemDeps } from "../deps";
import { openNodeDatabase } from "../node/database";
import { applyMigrations } from "../node/migrate";

/**
 * On-prem entry: the same app on Node, with an embedded libSQL file by default. Migrations are
 * applied at start (set STRATO_AUTO_MIGRATE=false to run `npm run db:migrate` yourself).
 */
const ServerEnv = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  STRATO_AUTO_MIGRATE: z.enum(["true", "false"]).default("true"),
});

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = {
    DATABASE_URL: "file:.data/strato.db",
    ...process.env,
  };
  const config = parseConfig(env, "node");
  const { HOST: hostname, PORT: port, STRATO_AUTO_MIGRATE } = parseEnv(ServerEnv, env);

  const db = openNodeDatabase(config.databaseUrl, config.databaseAuthToken);
  if (STRATO_AUTO_MIGRATE === "true") await applyMigrations(db);

  const app = createApp(
    systemDeps(config, db, { staticAssets: serveStatic({ root: "./public" }) }),
  );
  const httpServer = serve({ fetch: app.fetch, hostname, port }, (info) => {
    console.log(`Strato (node) listening on http://${info.address}:${info.port}`);
  });
  const stop = () => httpServer.close(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
