import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import { onTestFinished } from "vitest";
import { buildAssets } from "../../scripts/build-assets";
import { type App, createApp } from "../../src/app";
import type { Authorizer } from "../../src/authz/authorizer";
import { type AppConfig, parseConfig } from "../../src/config";
import { type Deps, embeddedAuthorizer } from "../../src/deps";
import { createIds } from "../../src/lib/ids";
import { openNodeDatabase } from "../../src/node/database";
import { applyMigrations } from "../../src/node/migrate";
import { createLocalSigner } from "../../src/signing/local";
import { createInProcessWakeup } from "../../src/wakeup/in-process";
import { FakeClock, MemoryLogger, seededRandom } from "./fakes";
import { generateSigningKey } from "./signing";

export type Harness = {
  app: App;
  deps: Deps;
  clock: FakeClock;
  logs: MemoryLogger;
  /** `app.request` with the test's origin filled in. */
  request(path: string, init?: RequestInit): Promise<Response>;
};

type HarnessOptions = {
  migrate?: boolean;
  config?: Partial<AppConfig>;
  /** An external Permify adapter instead of the embedded engine. */
  authz?: Authorizer;
};

let assetsBuilt = false;

export const STRATO_SCHEMA = readFileSync(
  new URL("../../permify/schema.perm", import.meta.url),
  "utf8",
);

/**
 * A fresh app over its own libSQL database file (removed when the test ends), with a fake clock,
 * seeded randomness and a collecting logger. Call it inside a test.
 */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  if (!assetsBuilt) {
    buildAssets();
    assetsBuilt = true;
  }
  const dir = mkdtempSync(join(tmpdir(), "strato-test-"));
  const db = openNodeDatabase(`file:${join(dir, "strato.db")}`);
  onTestFinished(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  if (options.migrate !== false) await applyMigrations(db);

  const clock = new FakeClock();
  const random = seededRandom();
  const logs = new MemoryLogger();
  const config = {
    ...parseConfig({ DATABASE_URL: `file:${dir}/strato.db`, STRATO_ENV: "test" }, "node"),
    ...options.config,
  };
  const deps: Deps = {
    config,
    db,
    authz: options.authz ?? embeddedAuthorizer(db, clock, STRATO_SCHEMA),
    clock,
    random,
    ids: createIds(clock, random),
    log: logs,
    staticAssets: serveStatic({ root: "./public" }),
    // Work-item signing with a fresh key per test (the trust window covers any fake time).
    signer: await createLocalSigner({
      active: { secret: (await generateSigningKey()).pem, notBefore: 0, notAfter: 4_102_444_800 },
      trustVersion: 1,
      trust: { rootKey: (await generateSigningKey()).jwk },
    }),
    wakeup: createInProcessWakeup(),
    // app.request has no socket: tests name the peer address in a header of their own.
    clientAddress: (c) => c.req.header("x-test-ip"),
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    clock,
    logs,
    request: (path, init) => Promise.resolve(app.request(`http://localhost${path}`, init)),
  };
}
