import { join } from "node:path";
import { createClient } from "@libsql/client";
import { describe, expect, it } from "vitest";
import { startWranglerDev, stopProcessGroup } from "../../src/node/dev/wrangler";
import { until } from "../support/poll";
import {
  freePort,
  processSandbox,
  signalGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";
import { SoftwareAuthenticator } from "../support/webauthn";

/**
 * `npm run dev` as a user runs it: the real dev runner process, the Worker under Miniflare
 * (wrangler dev) and the local libSQL endpoint, exercised over loopback HTTP.
 */
describe("npm run dev (Worker in Miniflare + local libSQL endpoint)", () => {
  const sandbox = processSandbox("strato-dev-");
  const { dataDir } = sandbox;

  async function startDev() {
    const [port, dbPort, inspectorPort, imagePort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const dev = sandbox.spawn("npm", ["run", "-s", "dev"], {
      STRATO_PORT: String(port),
      STRATO_DB_PORT: String(dbPort),
      STRATO_INSPECTOR_PORT: String(inspectorPort),
      STRATO_DATA_DIR: dataDir,
      STRATO_IMAGE_PORT: String(imagePort),
    });
    await waitForOutput(dev, "Strato is ready", 90_000);
    return { dev, port, base: `http://127.0.0.1:${port}`, dbUrl: `http://127.0.0.1:${dbPort}` };
  }

  it("serves the app from the Worker, stops on Ctrl-C and keeps the data", {
    timeout: 240_000,
  }, async () => {
    const first = await startDev();
    expect(first.dev.output()).toContain(`Strato is ready: http://localhost:${first.port}`);

    const ready = await fetch(`${first.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });

    // wrangler dev fires no cron triggers: the runner requests the scheduled handler itself, so
    // the reconciler runs in development too (its last run shows in /readyz).
    const lastRun = await until("the scheduled handler to run", async () => {
      const body = (await (await fetch(`${first.base}/readyz`)).json()) as {
        periodic_jobs?: { last_run_at: number | null };
      };
      return body.periodic_jobs?.last_run_at ?? undefined;
    });
    expect(Math.abs(Date.now() - lastRun)).toBeLessThan(60_000);

    // The code answering is the Worker build, not the Node entry.
    const info = await (await fetch(`${first.base}/api/v1/info`)).json();
    expect(info).toMatchObject({ name: "strato", runtime: "workers" });

    const missing = await fetch(`${first.base}/api/v1/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    expect(missing.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");

    const doc = await fetch(`${first.base}/api/v1/openapi.json`);
    expect(((await doc.json()) as { openapi: string }).openapi).toBe("3.1.0");
    // Static assets come from Workers assets, with our headers from public/_headers.
    const asset = await fetch(`${first.base}/static/vendor/swagger-ui/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("x-content-type-options")).toBe("nosniff");
    await asset.arrayBuffer();

    // The set-up code printed by the runner creates the first account through the Worker:
    // passkey verification (@simplewebauthn/server) runs on workerd.
    const code = /[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}/.exec(first.dev.output())?.[0];
    expect(code).toBeDefined();
    const origin = `http://localhost:${first.port}`;
    const authenticator = new SoftwareAuthenticator(origin);
    const post = (path: string, json: unknown, cookie = "") =>
      fetch(`${first.base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", origin, cookie },
        body: JSON.stringify(json),
      });
    const options = (await (
      await post("/api/v1/auth/sign-up/options", {
        email: "admin@example.test",
        displayName: "Admin",
        setupCode: code,
      })
    ).json()) as { ceremonyId: string; options: never };
    const created = await post("/api/v1/auth/sign-up", {
      ceremonyId: options.ceremonyId,
      credential: await authenticator.create(options.options),
    });
    expect(created.status).toBe(201);
    const signIn = (await (await post("/api/v1/auth/sign-in/options", {})).json()) as {
      ceremonyId: string;
      options: never;
    };
    const signedIn = await post("/api/v1/auth/sign-in", {
      ceremonyId: signIn.ceremonyId,
      credential: await authenticator.get(signIn.options),
    });
    expect(signedIn.status).toBe(200);
    const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const sessions = await fetch(`${first.base}/api/v1/me/sessions`, { headers: { cookie } });
    expect(sessions.status).toBe(200);

    // The first organization: the runner's local agent enrolls into it, is approved and reports,
    // and the demo image appears in the catalog.
    const { csrfToken } = (await signedIn.clone().json()) as { csrfToken: string };
    const org = (await (
      await fetch(`${first.base}/api/v1/organizations`, {
        method: "POST",
        headers: { "content-type": "application/json", origin, cookie, "x-csrf-token": csrfToken },
        body: JSON.stringify({ name: "Local" }),
      })
    ).json()) as { id: string };
    const deadline = Date.now() + 90_000;
    let hosts: { items: { health: string; state: string }[] } = { items: [] };
    while (Date.now() < deadline) {
      hosts = (await (
        await fetch(`${first.base}/api/v1/organizations/${org.id}/hosts`, { headers: { cookie } })
      ).json()) as typeof hosts;
      if (hosts.items.some((h) => h.state === "approved" && h.health !== "discovering")) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(hosts.items, first.dev.output().slice(-4000)).toMatchObject([
      // Simulated on purpose and with the host tools installed: nothing to warn about.
      { state: "approved", health: "healthy" },
    ]);
    const catalog = (await (
      await fetch(`${first.base}/api/v1/organizations/${org.id}/images`, { headers: { cookie } })
    ).json()) as { items: { name: string }[] };
    expect(catalog.items.map((i) => i.name)).toContain("demo-local");

    // Write through the same endpoint the Worker uses, to check it survives a restart.
    const client = createClient({ url: first.dbUrl });
    await client.execute({
      sql: "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
      args: ["dev-test", '"kept"', 1],
    });
    client.close();

    // Ctrl-C: the terminal signals the whole foreground group; everything must be gone in time.
    signalGroup(first.dev, "SIGINT");
    await waitForGroupExit(first.dev, 15_000);
    await expect(fetch(`${first.base}/healthz`)).rejects.toThrow();
    await expect(fetch(`${first.dbUrl}/health`)).rejects.toThrow();

    const second = await startDev();
    expect(second.dev.output()).toContain("Migrations applied.");
    const again = createClient({ url: second.dbUrl });
    const rows = await again.execute("SELECT value FROM settings WHERE key = 'dev-test'");
    again.close();
    expect(rows.rows[0]?.value).toBe('"kept"');
    signalGroup(second.dev, "SIGTERM");
    await waitForGroupExit(second.dev, 15_000);
  });

  it("a Worker without DATABASE_URL answers 503 problem+json, not a crash", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const worker = startWranglerDev({
      port,
      inspectorPort: await freePort(),
      persistTo: join(dataDir, "misconfigured"),
      vars: {},
      env: process.env,
      stdio: "ignore",
    });
    try {
      const url = `http://127.0.0.1:${port}/healthz`;
      // Wait for wrangler to answer at all; the app itself never becomes healthy here.
      let res: Response | undefined;
      for (let tries = 0; !res && tries < 150; tries++) {
        res = await fetch(url).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 200));
      }
      if (!res) throw new Error("wrangler dev did not answer");
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe("not_ready");
      expect(body.detail).not.toContain("DATABASE_URL");
    } finally {
      await stopProcessGroup(worker);
    }
  });
});
