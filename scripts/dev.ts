/**
 * `npm run dev`: the whole control plane locally, no account, no external service.
 *  1. a libSQL (Hrana over HTTP) endpoint on 127.0.0.1 over STRATO_DATA_DIR/strato.db
 *  2. pending migrations applied through that endpoint
 *  3. the Worker under Miniflare (`wrangler dev`) using the production web client against it
 *  4. a local `strato-agent` (unless STRATO_DEV_AGENT=0): enrolled into the first organization
 *     once it exists, approved, with a demo image served from loopback; VMs run in the Cloud
 *     Hypervisor simulator unless this machine has cloud-hypervisor and /dev/kvm
 * Ctrl-C stops everything; the data directory is kept for the next run (running VMs too: the
 * agent re-adopts them).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { z } from "zod";
import { ConfigError, parseConfig, parseEnv } from "../src/config";
import { systemDeps } from "../src/deps";
import { ensureSetupCode } from "../src/domain/identity/setup-code";
import { systemClock } from "../src/lib/clock";
import { cryptoRandom } from "../src/lib/random";
import { openNodeDatabase } from "../src/node/database";
import { type DevCron, startDevCron } from "../src/node/dev/cron";
import { type LocalAgent, startLocalAgent } from "../src/node/dev/local-agent";
import { waitForOk } from "../src/node/dev/wait";
import { startWranglerDev, stopProcessGroup } from "../src/node/dev/wrangler";
import { startLibsqlHttpServer } from "../src/node/libsql-http";
import { applyMigrations } from "../src/node/migrate";
import { setupBanner } from "../src/node/setup-banner";
import { buildAssets, watchAssets } from "./build-assets";

const port = z.coerce.number().int().min(1).max(65535);
const DevEnv = z.object({
  STRATO_PORT: port.default(8787),
  STRATO_DB_PORT: port.default(8788),
  STRATO_INSPECTOR_PORT: port.default(9229),
  STRATO_DATA_DIR: z.string().min(1).default(".data"),
  STRATO_IMAGE_PORT: port.default(8790),
  STRATO_DEV_AGENT: z.enum(["0", "1"]).default("1"),
});

/**
 * A dev control plane key, generated once into the data directory (0600) and handed to the Worker
 * as a var (a secret in production): the work-item signing key (STRATO_SIGNING_KEY) and the trust
 * root (STRATO_TRUST_ROOT_KEY; the dev agent pins it, so it must outlive restarts too).
 */
async function devKey(dataDir: string, file: string): Promise<string> {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const jwk = JSON.stringify(await exportJWK(privateKey));
  writeFileSync(path, `${jwk}\n`, { mode: 0o600 });
  return jwk;
}

async function main(): Promise<void> {
  const env = parseEnv(DevEnv, process.env);
  const dataDir = resolve(env.STRATO_DATA_DIR);
  buildAssets();
  // New Tailwind classes in templates rebuild the CSS (and its hashed name) while dev runs.
  const stopWatchingAssets = watchAssets();

  const dbServer = await startLibsqlHttpServer({
    dbPath: join(dataDir, "strato.db"),
    port: env.STRATO_DB_PORT,
  });
  console.log(`libSQL endpoint: ${dbServer.url} (${join(dataDir, "strato.db")})`);

  const db = openNodeDatabase(dbServer.url);
  await applyMigrations(db);
  const setupCode = await ensureSetupCode({ db, random: cryptoRandom, clock: systemClock });
  db.$client.close();
  console.log("Migrations applied.");
  // Passkeys need a host name, not an IP address: the console lives at localhost.
  const origin = `http://localhost:${env.STRATO_PORT}`;

  const worker = startWranglerDev({
    port: env.STRATO_PORT,
    inspectorPort: env.STRATO_INSPECTOR_PORT,
    persistTo: join(dataDir, "wrangler"),
    vars: {
      DATABASE_URL: dbServer.url,
      STRATO_ENV: "development",
      STRATO_SIGNING_KEY: await devKey(dataDir, "signing-key.jwk"),
      STRATO_TRUST_ROOT_KEY: await devKey(dataDir, "trust-root.jwk"),
      WEBAUTHN_RP_ID: "localhost",
      WEBAUTHN_ORIGIN: origin,
    },
    env: process.env,
  });

  let stopping = false;
  let localAgent: LocalAgent | undefined;
  let cron: DevCron | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopWatchingAssets();
    cron?.stop();
    await Promise.all([localAgent?.stop(), stopProcessGroup(worker)]);
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
  console.log(
    `\nStrato is ready: ${origin}  (API reference: ${origin}/api/docs)  Ctrl-C to stop.\n`,
  );
  if (setupCode) console.log(setupBanner(origin, setupCode));
  cron = startDevCron(url, (line) => console.log(line));
  if (env.STRATO_DEV_AGENT === "1") {
    const agentDb = openNodeDatabase(dbServer.url);
    localAgent = await startLocalAgent({
      deps: systemDeps(
        parseConfig({ DATABASE_URL: dbServer.url, STRATO_ENV: "development" }, "node"),
        agentDb,
        { authzSchema: readFileSync(new URL("../permify/schema.perm", import.meta.url), "utf8") },
      ),
      url: origin,
      dataDir,
      imagePort: env.STRATO_IMAGE_PORT,
      env: process.env,
      log: (message) => console.log(message),
    });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
