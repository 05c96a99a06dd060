import { eq } from "drizzle-orm";
import { syncAuthorizer } from "../authz/sync";
import type { Database } from "../db/database";
import { settings } from "../db/schema/settings";
import type { Deps } from "../deps";
import { ensureHostGrace } from "./hosts/grace";
import { sweepHostLiveness } from "./hosts/liveness-sweep";
import { endStrandedWork } from "./hosts/shut-out";
import { purgeIdentityLeftovers } from "./identity/purge";
import { reconcile } from "./vms/reconcile";
import { settleLapsedCancellations } from "./work/cancel";
import { purgeExpiredIdempotencyKeys } from "./work/idempotency";

/**
 * The control plane's periodic work, run by the Worker's cron trigger and a timer on Node: push
 * the authorization outbox, record host liveness changes, end the work left open on revoked or
 * rejected hosts, end cancellations whose host let the lease lapse, purge expired passkey
 * challenges, rate-limit counters, sessions and idempotency keys, then reconcile VMs. Each job logs and survives its own failure.
 */
export async function runPeriodicJobs(deps: Deps): Promise<void> {
  await job(deps, "restart grace", () => ensureHostGrace(deps));
  await syncAuthorizer(deps);
  await job(deps, "host liveness sweep", () => sweepHostLiveness(deps));
  await job(deps, "ending work of revoked hosts", async () => {
    const hostsLeft = await endStrandedWork(deps);
    if (hostsLeft > 0) deps.log.info("open work of revoked or rejected hosts ended", { hostsLeft });
  });
  await job(deps, "settling cancellations", async () => {
    const settled = await settleLapsedCancellations(deps);
    if (settled > 0) deps.log.info("cancellations settled after their leases lapsed", { settled });
  });
  await job(deps, "purging identity leftovers", async () => {
    const purged = await purgeIdentityLeftovers(deps);
    if (purged.challenges + purged.rateLimits + purged.sessions > 0) {
      deps.log.info("expired challenges, rate-limit counters and sessions purged", purged);
    }
  });
  await job(deps, "purging idempotency keys", async () => {
    const purged = await purgeExpiredIdempotencyKeys(deps);
    if (purged > 0) deps.log.info("expired idempotency keys purged", { purged });
  });
  await job(deps, "reconcile", async () => {
    const report = await reconcile(deps);
    if (report.dispatched + report.markedUnknown + report.recovered + report.failed > 0) {
      deps.log.info("reconciled", report);
    }
  });
  await recordRun(deps);
}

/** Runs one job; its failure is logged and does not stop the jobs after it. */
async function job(deps: Deps, name: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    deps.log.error(`${name} failed`, { error: err instanceof Error ? err.message : String(err) });
  }
}

/** Where the time of the last finished run is kept, so operators can see the cron/timer works. */
const LAST_RUN_KEY = "periodic_jobs";

async function recordRun(deps: Deps): Promise<void> {
  const at = deps.clock.now();
  const value = { last_run_at: at };
  try {
    await deps.db
      .insert(settings)
      .values({ key: LAST_RUN_KEY, value, updatedAt: at })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: at } });
  } catch (err) {
    deps.log.warn("periodic jobs: could not record the run", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** When the periodic jobs last finished (UTC ms), or null if they never ran on this database. */
export async function lastPeriodicRun(db: Database): Promise<number | null> {
  const [row] = await db.select().from(settings).where(eq(settings.key, LAST_RUN_KEY)).limit(1);
  const value = row?.value;
  if (typeof value === "object" && value !== null && "last_run_at" in value) {
    const at = value.last_run_at;
    return typeof at === "number" ? at : null;
  }
  return null;
}
