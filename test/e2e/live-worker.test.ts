import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { type Deps, systemDeps } from "../../src/deps";
import { openNodeDatabase } from "../../src/node/database";
import { consoleSession } from "../support/console-session";
import { liveDashboard } from "../support/live-dashboard";
import {
  freePort,
  processSandbox,
  signalGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";
import { SseReader } from "../support/sse";

const AUTHZ_SCHEMA = readFileSync(new URL("../../permify/schema.perm", import.meta.url), "utf8");

/**
 * The console's live updates on workerd (`npm run dev`: the Worker under Miniflare): the
 * dashboard's event stream connects, stays quiet while nothing changes, and sends the cards when a
 * project's quota changes through the API, with real timers and the database over HTTP.
 */
describe("live console updates on the Worker (npm run dev)", () => {
  const sandbox = processSandbox("strato-live-worker-");
  let deps: Deps | undefined;
  afterAll(() => deps?.db.$client.close());

  it("streams the dashboard's cards when they change", { timeout: 180_000 }, async () => {
    const [port, dbPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
    const dev = sandbox.spawn("npm", ["run", "-s", "dev"], {
      STRATO_PORT: String(port),
      STRATO_DB_PORT: String(dbPort),
      STRATO_INSPECTOR_PORT: String(inspectorPort),
      STRATO_DATA_DIR: join(sandbox.dataDir, "cp"),
      STRATO_DEV_AGENT: "0",
    });
    await waitForOutput(dev, "Strato is ready", 90_000);
    const base = `http://127.0.0.1:${port}`;
    const origin = `http://localhost:${port}`;
    const dbUrl = `http://127.0.0.1:${dbPort}`;
    const d = systemDeps(parseConfig({ DATABASE_URL: dbUrl }, "node"), openNodeDatabase(dbUrl), {
      authzSchema: AUTHZ_SCHEMA,
    });
    deps = d;

    const headers = await consoleSession(d, origin);
    const { api, projectId, eventsUrl: url } = await liveDashboard(base, headers);
    const controller = new AbortController();
    const res = await fetch(`${base}${url}`, {
      headers: { ...headers, accept: "text/event-stream", "hx-request": "true" },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = new SseReader(res);
    try {
      // Nothing changed since the page: nothing is sent (the stream checks every second).
      expect(await sse.next(2500)).toBe("timeout");
      await api(`/api/v1/projects/${projectId}/quota`, "PUT", {
        maxVms: 7,
        maxVcpus: 16,
        maxMemoryMb: 32768,
        maxDiskGb: 500,
      });
      const cards = await sse.event(10_000);
      expect(cards.data).toMatch(/^<div id="dashboard-live"/);
      expect(cards.data).toMatch(/data-quota="VMs".*?0 of 7/s);
    } finally {
      controller.abort();
      await sse.close();
      // The runner stops the Worker's own process group; a SIGKILL would leave it running.
      signalGroup(dev, "SIGTERM");
      await waitForGroupExit(dev, 15_000);
    }
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
