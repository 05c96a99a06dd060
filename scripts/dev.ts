/**
 * `npm run dev`: the whole control plane locally, no account, no external service.
 *  1. a libSQL (Hrana over HTTP) endpoint on 127.0.0.1 over STRATO_DATA_DIR/strato.db
 *  2. pending migrations applied through that endpoint
 *  3. the Worker under Miniflare (`wrangler dev`) using the production web client against it
 * Ctrl-C stops everything; the data directory is kept for the next run.
 */
import { join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError, parseEnv } from "../src/config";
import { openNodeDatabase } from "../src/node/database";
import { waitForOk } from "../src/node/dev/wait";
import { startWranglerDev, stopProcessGroup } from "../src/node/dev/wrangler";
import { startLibsqlHttpServer } from "../src/node/libsql-http";
import { applyMigrations } from "../src/node/migrate";
import { buildAssets } from "./build-assets";

const port = z.coerce.number().int().min(1).max(65535);
const DevEnv = z.object({
  STRATO_PORT: port.default(8787),
  STRATO_DB_PORT: port.default(8788),
  STRATO_INSPECTOR_PORT: port.default(9229),
  STRATO_DATA_DIR: z.string().min(1).default(".data"),
});

async function main(): Promise<void> {
  const env = parseEnv(DevEnv, process.env);
  const dataDir = resolve(env.STRATO_DATA_DIR);
  buildAssets();

  const dbServer = await startLibsqlHttpServer({
    dbPath: join(dataDir, "strato.db"),
    port: env.STRATO_DB_PORT,
  });
  console.log(`libSQL endpoint: ${dbServer.url} (${join(dataDir, "strato.db")})`);

  const db = openNodeDatabase(dbServer.url);
  await applyMigrations(db);
  db.$client.close();
  console.log("Migrations applied.");

  const worker = startWranglerDev({
    port: env.STRATO_PORT,
    inspectorPort: env.STRATO_INSPECTOR_PORT,
    persistTo: join(dataDir, "wrangler"),
    vars: { DATABASE_URL: dbServer.url, STRATO_ENV: "development" },
    env: process.env,
  });

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await stopProcessGroup(worker);
    await dbServer.close();
    process.exit(code);
  };
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));
  worker.once("exit", (code) => {
    if (!stopping) {
      console.error(`wrangler dev exited (${code}); stopping.`);
      void stop(1);
    }
  });

  const url = `http://127.0.0.1:${env.STRATO_PORT}`;
  try {
    await waitForOk(`${url}/readyz`, 60_000, () => worker.exitCode === null);
  } catch (err) {
    console.error(`Strato did not become ready: ${err instanceof Error ? err.message : err}`);
    return stop(1);
  }
  console.log(`\nStrato is ready: ${url}  (API reference: ${url}/api/docs)  Ctrl-C to stop.\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
