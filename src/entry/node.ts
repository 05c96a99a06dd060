import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { serveStatic } from "@hono/node-server/serve-static";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { createApp } from "../app";
import type { Authorizer } from "../authz/authorizer";
import { PermifyRestAuthorizer } from "../authz/permify-rest";
import { prepareAuthorizer } from "../authz/sync";
import { type AppConfig, ConfigError, parseConfig, parseEnv } from "../config";
import { signerFromConfig, systemDeps } from "../deps";
import { ensureSetupCode } from "../domain/identity/setup-code";
import { runPeriodicJobs } from "../domain/periodic";
import { PermifyGrpcAuthorizer } from "../node/authz/permify-grpc";
import { openNodeDatabase, useWriteAheadLog } from "../node/database";
import { applyMigrations } from "../node/migrate";
import { setupBanner } from "../node/setup-banner";
import { createNodeUpgrades } from "../node/websocket-upgrade";
import { createInProcessWakeup } from "../wakeup/in-process";

/**
 * On-prem entry: the same app on Node, with an embedded libSQL file by default. Migrations are
 * applied at start (set STRATO_AUTO_MIGRATE=false to run `npm run db:migrate` yourself).
 */
const ServerEnv = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  STRATO_AUTO_MIGRATE: z.enum(["true", "false"]).default("true"),
});

/** Files from public/; built files have a content hash in their name (same rule as public/_headers). */
function staticFiles(): MiddlewareHandler {
  const files = serveStatic({ root: "./public" });
  return async function staticFiles(c, next) {
    const res = await files(c, next);
    if (res?.ok && c.req.path.startsWith("/static/build/")) {
      res.headers.set("Cache-Control", "public, max-age=31536000, immutable");
    }
    return res;
  };
}

const PERIODIC_INTERVAL_MS = 10_000;

/** AUTHZ=permify-rest or permify-grpc: the adapter for that Permify server; embedded: none. */
function remoteAuthorizer(config: AppConfig): Authorizer | undefined {
  const { authz } = config;
  if (authz.mode === "embedded") return undefined;
  const common = {
    tenant: authz.tenant,
    ...(authz.apiKey !== undefined ? { apiKey: authz.apiKey } : {}),
  };
  return authz.mode === "permify-rest"
    ? new PermifyRestAuthorizer({ url: authz.url, ...common })
    : new PermifyGrpcAuthorizer({ endpoint: authz.url, insecure: authz.insecure, ...common });
}

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = {
    DATABASE_URL: "file:.data/strato.db",
    ...process.env,
  };
  const config = parseConfig(env, "node");
  const { HOST: hostname, PORT: port, STRATO_AUTO_MIGRATE } = parseEnv(ServerEnv, env);

  const db = openNodeDatabase(config.databaseUrl, config.databaseAuthToken);
  await useWriteAheadLog(db, config.databaseUrl);
  if (STRATO_AUTO_MIGRATE === "true") await applyMigrations(db);

  const authzSchema = readFileSync(new URL("../../permify/schema.perm", import.meta.url), "utf8");
  const authz = remoteAuthorizer(config);
  // Agents' doorbell WebSockets (GET /api/v1/agent/connect) are held in this process.
  const upgrades = createNodeUpgrades();
  const deps = systemDeps(config, db, {
    staticAssets: staticFiles(),
    clientAddress: (c) => getConnInfo(c).remote.address,
    wakeup: createInProcessWakeup(upgrades.accept),
    authzSchema,
    ...(authz ? { authz } : {}),
  });
  await prepareAuthorizer(deps, authzSchema);
  // Work-item signing key and trust root (secrets); without them agents cannot enroll or claim.
  const signer = await signerFromConfig(config, deps.log);
  if (signer) deps.signer = signer;
  // The authz outbox and the VM reconciler (the Worker runs them from its cron trigger).
  let periodicRunning = false;
  const periodic = setInterval(() => {
    // A run that outlasts the interval is not overlapped by the next (they would both settle the
    // same items).
    if (periodicRunning) return;
    periodicRunning = true;
    runPeriodicJobs(deps)
      .catch((err: unknown) => deps.log.error("periodic jobs failed", { error: String(err) }))
      .finally(() => {
        periodicRunning = false;
      });
  }, PERIODIC_INTERVAL_MS);
  periodic.unref();
  const app = createApp(deps);
  const setupCode = await ensureSetupCode(deps);
  const httpServer = serve({ fetch: app.fetch, hostname, port }, (info) => {
    console.log(`Strato (node) listening on http://${info.address}:${info.port}`);
    if (setupCode) console.log(setupBanner(config.webauthn.origin, setupCode));
  });
  // serve() without createServer options is a plain node:http server.
  upgrades.attach(httpServer as Server, app.fetch);
  const stop = () => {
    upgrades.closeAll();
    httpServer.close(() => process.exit(0));
    // The console's event streams (src/web/live) last minutes: after a moment for requests in
    // flight, cut them (browsers reconnect to the next process).
    setTimeout(() => (httpServer as Server).closeAllConnections(), 1000).unref();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
