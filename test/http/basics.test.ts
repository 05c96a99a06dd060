import { describe, expect, it } from "vitest";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { createHarness } from "../support/harness";

describe("health and readiness", () => {
  it("/healthz answers while the process is up", async () => {
    const h = await createHarness();
    const res = await h.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/readyz is 200 when the database is reachable and migrated", async () => {
    const h = await createHarness();
    const res = await h.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ready",
      checks: { database: { status: "ok" }, migrations: { status: "ok" } },
      periodic_jobs: { last_run_at: null },
    });
    // After the periodic jobs (cron trigger / Node timer) ran, readiness says when.
    await runPeriodicJobs(h.deps);
    const after = (await (await h.request("/readyz")).json()) as {
      periodic_jobs: { last_run_at: number | null };
    };
    expect(after.periodic_jobs.last_run_at).toBe(h.deps.clock.now());
  });

  it("/readyz is 503 naming the pending migrations", async () => {
    const h = await createHarness({ migrate: false });
    const res = await h.request("/readyz");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { code: string; checks: { migrations: { detail: string } } };
    expect(body.code).toBe("not_ready");
    expect(body.checks.migrations.detail).toContain("0000_init");
  });

  it("/readyz is 503 when the database is unreachable, without leaking driver errors", async () => {
    const h = await createHarness();
    h.deps.db.$client.close();
    const res = await h.request("/readyz");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: { database: { status: string; detail: string } } };
    expect(body.checks.database).toEqual({ status: "error", detail: "database unreachable" });
    expect(h.logs.entries.some((e) => e.message === "readiness: database check failed")).toBe(true);
  });

  it("/api/v1/info reports version and runtime", async () => {
    const h = await createHarness();
    const res = await h.request("/api/v1/info");
    expect(await res.json()).toEqual({
      name: "strato",
      version: "0.1.0",
      apiVersion: "v1",
      runtime: "node",
    });
  });
});

describe("request ids and access logs", () => {
  it("echoes a well-formed X-Request-Id", async () => {
    const h = await createHarness();
    const res = await h.request("/healthz", { headers: { "x-request-id": "abc-123_DEF" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123_DEF");
  });

  it.each([
    ["too long", "a".repeat(200)],
    ["bad characters", "abc def<script>"],
  ])("replaces an X-Request-Id that is %s with a generated one", async (_why, value) => {
    const h = await createHarness();
    const res = await h.request("/healthz", { headers: { "x-request-id": value } });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-z]{26}$/);
  });

  it("writes one structured line per request", async () => {
    const h = await createHarness();
    const res = await h.request("/api/v1/nope");
    const lines = h.logs.entries.filter((e) => e.message === "request");
    expect(lines).toEqual([
      {
        level: "info",
        message: "request",
        method: "GET",
        path: "/api/v1/nope",
        status: 404,
        durationMs: 0,
        requestId: res.headers.get("x-request-id"),
      },
    ]);
  });
});

describe("security headers", () => {
  it.each(["/healthz", "/api/v1/nope", "/api/docs"])("are on every response (%s)", async (path) => {
    const h = await createHarness();
    const res = await h.request(path);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("same-origin");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });
});
