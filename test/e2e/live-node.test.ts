import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { type Deps, systemDeps } from "../../src/deps";
import { openNodeDatabase } from "../../src/node/database";
import { consoleSession } from "../support/console-session";
import { liveDashboard } from "../support/live-dashboard";
import { until } from "../support/poll";
import {
  freePort,
  processSandbox,
  signalGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";
import { SseReader } from "../support/sse";

const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");
const AUTHZ_SCHEMA = readFileSync(new URL("../../permify/schema.perm", import.meta.url), "utf8");

/**
 * The console's live updates on the Node server: the dashboard's event stream (checking every
 * 200 ms, from STRATO_LIVE_CHECK_MS) sends the cards when a quota changes, ends when its client
 * goes away, and an open stream does not hold up the server's exit on SIGTERM.
 */
describe("live console updates on the Node server", () => {
  const sandbox = processSandbox("strato-live-node-");
  let deps: Deps | undefined;
  afterAll(() => deps?.db.$client.close());

  it("streams the dashboard's cards and exits promptly with a stream open", {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const databaseUrl = `file:${join(sandbox.dataDir, "cp.db")}`;
    const server = sandbox.spawn(TSX, ["src/entry/node.ts"], {
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      WEBAUTHN_ORIGIN: origin,
      STRATO_LIVE_CHECK_MS: "200",
    });
    await waitForOutput(server, "listening on", 60_000);
    const base = `http://127.0.0.1:${port}`;
    const d = systemDeps(
      parseConfig({ DATABASE_URL: databaseUrl }, "node"),
      openNodeDatabase(databaseUrl),
      { authzSchema: AUTHZ_SCHEMA },
    );
    deps = d;
    const headers = await consoleSession(d, origin);
    const { api, projectId, eventsUrl: url } = await liveDashboard(base, headers);
    const res = await fetch(`${base}${url}`, {
      headers: { ...headers, accept: "text/event-stream", "hx-request": "true" },
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = new SseReader(res);
    try {
      expect(await sse.next(600)).toBe("timeout");
      await api(`/api/v1/projects/${projectId}/quota`, "PUT", {
        maxVms: 7,
        maxVcpus: 16,
        maxMemoryMb: 32768,
        maxDiskGb: 500,
      });
      expect((await sse.event(5000)).data).toMatch(/data-quota="VMs".*?0 of 7/s);

      // A browser leaving the page: the server ends that stream at once.
      const leaving = new AbortController();
      const other = await fetch(`${base}${url}`, { headers, signal: leaving.signal });
      expect(other.status).toBe(200);
      leaving.abort();
      await until(
        "the stream of the client that left to end",
        async () => (server.output().includes('"ended":"disconnected"') ? true : undefined),
        { timeoutMs: 5000 },
      );

      // SIGTERM with the stream still open: the server closes it and exits.
      const stopping = Date.now();
      signalGroup(server, "SIGTERM");
      await waitForGroupExit(server, 10_000);
      expect(Date.now() - stopping).toBeLessThan(5000);
      expect(await sse.next(2000).catch(() => "end")).toBe("end");
    } finally {
      await sse.close();
    }
  });
});
