import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import {
  freePort,
  processSandbox,
  type Spawned,
  signalGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";

/** `npm start`: the on-prem Node server over an embedded libSQL file, as an operator runs it. */
describe("npm start (Node server, embedded libSQL file)", () => {
  const sandbox = processSandbox("strato-node-");
  const { dataDir } = sandbox;
  const start = (env: Record<string, string>): Spawned =>
    sandbox.spawn("npm", ["start", "-s"], env);

  it("migrates a fresh database file, serves the app and stops on SIGTERM", async () => {
    const port = await freePort();
    const server = start({ PORT: String(port), DATABASE_URL: `file:${join(dataDir, "s.db")}` });
    await waitForOutput(server, "listening on", 60_000);
    const base = `http://127.0.0.1:${port}`;

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await (await fetch(`${base}/api/v1/info`)).json()).toMatchObject({ runtime: "node" });

    const asset = await fetch(`${base}/static/vendor/swagger-ui/swagger-ui.css`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-security-policy")).toContain("default-src 'self'");
    await asset.arrayBuffer();

    const line = server
      .output()
      .split("\n")
      .find((l) => l.includes('"message":"request"'));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ method: "GET", path: "/readyz", status: 200 });

    signalGroup(server, "SIGTERM");
    await waitForGroupExit(server, 15_000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();

    // The file was switched to WAL mode (kept in the file: every later connection uses it).
    const db = new DatabaseSync(join(dataDir, "s.db"));
    try {
      expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    } finally {
      db.close();
    }
  });

  it("refuses invalid configuration with a clear message and exit code 1", async () => {
    const server = start({ PORT: "not-a-port", DATABASE_URL: `file:${join(dataDir, "t.db")}` });
    expect(await server.exited).not.toBe(0);
    expect(server.output()).toContain("Invalid configuration");
    expect(server.output()).toContain("PORT");
  });
});
