/**
 * The control plane as src/entry/node.ts builds it (systemDeps + createApp over a `file:` libSQL
 * database with migrations applied, a signing key, the periodic jobs), served on loopback with
 * @hono/node-server inside the bench's own process, plus the first account of an installation.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { exportPKCS8, generateKeyPair } from "jose";
import { type App, createApp } from "../../src/app";
import { prepareAuthorizer } from "../../src/authz/sync";
import { parseConfig } from "../../src/config";
import { type Deps, signerFromConfig, systemDeps } from "../../src/deps";
import { commit, type ServiceContext } from "../../src/domain/context";
import { createUserStatements } from "../../src/domain/identity/users";
import { createOrganization } from "../../src/domain/orgs/create-organization";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { createProject } from "../../src/domain/projects/create-project";
import { createToken } from "../../src/domain/tokens/create-token";
import type { Logger } from "../../src/lib/logger";
import { openNodeDatabase, useWriteAheadLog } from "../../src/node/database";
import { applyMigrations } from "../../src/node/migrate";
import { createNodeUpgrades } from "../../src/node/websocket-upgrade";
import { createInProcessWakeup } from "../../src/wakeup/in-process";
import { summarize } from "./stats";

const AUTHZ_SCHEMA = readFileSync(new URL("../../permify/schema.perm", import.meta.url), "utf8");
const PERIODIC_INTERVAL_MS = 10_000;

/** Sees every request the server answers; `response` settles when the app has answered. */
export type RequestObserver = (request: Request, response: Promise<Response>) => void;

export type ControlPlane = {
  /** http://127.0.0.1:PORT */
  base: string;
  deps: Deps;
  app: App;
  /** Add or remove request observers (request counting, ack detection). */
  observers: Set<RequestObserver>;
  /** Warnings and errors the control plane logged (the access log is dropped). */
  problems: () => number;
  close(): Promise<void>;
};

/**
 * Info lines (one per request) are dropped so they neither flood the bench's output nor cost
 * console writes inside the timings; the first warnings and errors go to stderr.
 */
function quietLogger(): { log: Logger; count: () => number } {
  let count = 0;
  const report = (level: string, message: string, fields?: Record<string, unknown>) => {
    count++;
    const detail = JSON.stringify(fields) ?? "";
    if (count <= 10) console.error(`[control plane ${level}] ${message} ${detail.slice(0, 600)}`);
  };
  return {
    log: {
      info() {},
      warn: (m, f) => report("warn", m, f),
      error: (m, f) => report("error", m, f),
    },
    count: () => count,
  };
}

/**
 * Starts the control plane over `<dir>/cp.db`; `env` adds configuration (e.g. lease lengths).
 * `websockets: false` leaves out the doorbell sockets, so agents long-poll.
 */
export async function startControlPlane(
  dir: string,
  env: Record<string, string> = {},
  options: { websockets?: boolean } = {},
): Promise<ControlPlane> {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const root = await generateKeyPair("EdDSA", { extractable: true });
  const config = parseConfig(
    {
      DATABASE_URL: `file:${join(dir, "cp.db")}`,
      STRATO_SIGNING_KEY: await exportPKCS8(privateKey),
      STRATO_TRUST_ROOT_KEY: await exportPKCS8(root.privateKey),
      ...env,
    },
    "node",
  );
  const db = openNodeDatabase(config.databaseUrl);
  await useWriteAheadLog(db, config.databaseUrl);
  await applyMigrations(db);
  const quiet = quietLogger();
  // Agents' doorbell WebSockets, as src/entry/node.ts wires them.
  const upgrades = options.websockets === false ? undefined : createNodeUpgrades();
  const deps: Deps = {
    ...systemDeps(config, db, {
      clientAddress: (c) => getConnInfo(c).remote.address,
      wakeup: createInProcessWakeup(upgrades?.accept),
      authzSchema: AUTHZ_SCHEMA,
    }),
    log: quiet.log,
  };
  await prepareAuthorizer(deps, AUTHZ_SCHEMA);
  const signer = await signerFromConfig(config, deps.log);
  if (signer) deps.signer = signer;
  const periodic = setInterval(() => void runPeriodicJobs(deps), PERIODIC_INTERVAL_MS);
  periodic.unref();
  const app = createApp(deps);

  const observers = new Set<RequestObserver>();
  let listening: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const observed = (request: Request, bindings: unknown) => {
    const response = Promise.resolve(app.fetch(request, bindings));
    for (const observe of observers) observe(request, response);
    return response;
  };
  const server = serve({ fetch: observed, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) =>
    listening(info.port),
  );
  upgrades?.attach(server as Server, observed);
  let closed = false;
  return {
    base: `http://127.0.0.1:${await port}`,
    deps,
    app,
    observers,
    problems: quiet.count,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(periodic);
      upgrades?.closeAll();
      await new Promise<void>((done) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => done());
      });
      db.$client.close();
    },
  };
}

export type Tenant = {
  userId: string;
  orgId: string;
  projectId: string;
  /** An organization admin API token (Bearer). */
  secret: string;
};

/**
 * The first account, its organization and project and an admin API token, made directly with the
 * domain functions (as test/e2e/vm-lifecycle.test.ts does; passkey sign-up has its own tests).
 */
export async function seedTenant(deps: Deps): Promise<Tenant> {
  const userId = deps.ids.next("user");
  const now = deps.clock.now();
  const system: ServiceContext = { deps, actor: { kind: "system" }, requestId: "bench" };
  await commit(
    deps.db,
    createUserStatements(system, {
      id: userId,
      email: "bench@example.test",
      displayName: "Bench",
      isPlatformAdmin: false,
      createdAt: now,
      updatedAt: now,
    }),
  );
  const sc: ServiceContext = {
    deps,
    actor: { kind: "user", userId, sessionId: null },
    requestId: "bench",
  };
  const orgId = (await createOrganization(sc, { name: "Bench" })).id;
  const projectId = (await createProject(sc, orgId, { name: "Bench" })).id;
  const { secret } = await createToken(sc, orgId, { name: "bench", role: "admin" });
  return { userId, orgId, projectId, secret };
}

/** A request with the tenant's API token; `json` is sent as the body. */
export type Api = (path: string, init?: RequestInit & { json?: unknown }) => Promise<Response>;

export function apiClient(base: string, secret: string): Api {
  return (path, init = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set("authorization", `Bearer ${secret}`);
    if (json !== undefined) headers.set("content-type", "application/json");
    return fetch(`${base}${path}`, {
      ...rest,
      headers,
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
}

/** The JSON body of a response with the expected status, or an error with the body's text. */
export async function expectJson<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  if (res.status !== status) {
    throw new Error(`${res.url}: expected ${status}, got ${res.status}: ${text.slice(0, 2000)}`);
  }
  return JSON.parse(text) as T;
}

/**
 * p50 of one single-row write commit to a fresh database file in `dir` (the same engine and
 * settings as the control plane's): most control-plane steps cost one or more of these.
 */
export async function commitP50Ms(dir: string, n = 30): Promise<number> {
  const url = `file:${join(dir, "commit-probe.db")}`;
  const db = openNodeDatabase(url);
  try {
    await useWriteAheadLog(db, url);
    await db.$client.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await db.$client.execute({ sql: "INSERT INTO probe (at) VALUES (?)", args: [i] });
      samples.push(performance.now() - started);
    }
    return summarize(samples).p50;
  } finally {
    db.$client.close();
  }
}
