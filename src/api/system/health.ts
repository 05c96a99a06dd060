import { createRoute, z } from "@hono/zod-openapi";
import { migrationStatus } from "../../db/migrations";
import { lastPeriodicRun } from "../../domain/periodic";
import { ProblemError } from "../../http/problem";
import type { Router } from "../router";
import { problemResponses } from "../schemas";

const Check = z.object({
  status: z.enum(["ok", "error"]),
  detail: z.string().optional(),
});

const Ready = z
  .object({
    status: z.literal("ready"),
    checks: z.object({ database: Check, migrations: Check }),
    periodic_jobs: z
      .object({
        last_run_at: z.number().int().nullable().openapi({
          description:
            "When the reconciler and the authorization sync last ran (UTC ms; cron trigger on Workers, a 10 s timer on Node); null before the first run",
        }),
      })
      .optional(),
  })
  .openapi("Readiness");

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["system"],
  summary: "Liveness: the process is up and serving requests",
  responses: {
    200: {
      description: "Alive",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
  },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["system"],
  summary: "Readiness: the database is reachable and its migrations are current",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: Ready } } },
    ...problemResponses("not_ready"),
  },
});

type CheckResult = z.infer<typeof Check>;

export function registerHealth(app: Router): void {
  app.openapi(healthz, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(readyz, async (c) => {
    const { db, log } = c.var.deps;
    let database: CheckResult = { status: "ok" };
    let migrations: CheckResult;
    try {
      const status = await migrationStatus(db);
      migrations =
        status.pending.length === 0
          ? { status: "ok" }
          : { status: "error", detail: `pending migrations: ${status.pending.join(", ")}` };
    } catch (err) {
      // Log the driver's error; the probe answer names the failed check only.
      log.error("readiness: database check failed", {
        requestId: c.var.requestId,
        error: err instanceof Error ? err.message : String(err),
      });
      database = { status: "error", detail: "database unreachable" };
      migrations = { status: "error", detail: "unknown while the database is unreachable" };
    }
    const checks = { database, migrations };
    if (database.status === "ok" && migrations.status === "ok") {
      const lastRun = await lastPeriodicRun(db).catch(() => undefined);
      return c.json(
        {
          status: "ready" as const,
          checks,
          ...(lastRun !== undefined ? { periodic_jobs: { last_run_at: lastRun } } : {}),
        },
        200,
      );
    }
    const failed = Object.entries(checks)
      .filter(([, check]) => check.status === "error")
      .map(([name]) => name);
    throw new ProblemError({
      code: "not_ready",
      detail: `Not ready: ${failed.join(", ")} check failed.`,
      extensions: { checks },
    });
  });
}
