import { eq } from "drizzle-orm";
import { syncAuthorizer } from "../authz/sync";
import type { Database } from "../db/database";
import { settings } from "../db/schema/settings";
import type { Deps } from "../deps";
import { ensureHostGrace } from "./hosts/grace";
import { sweepHostLiveness } from "./hosts/liveness-sweep";
import { reconcile } from "./vms/reconcile";
import { settleLapsedCancellations } from "./work/cancel";

/**
 * The control plane's periodic work, run by the Worker's cron trigger and a timer on Node: push
 * the authorization outbox, record host liveness changes, end cancellations whose host let the
 * lease lapse, then reconcile VMs. Each job logs and survives its own failure.
 */
export async function runPeriodicJobs(deps: Deps): Promise<void> {
  await ensureHostGrace(deps);
  await syncAuthorizer(deps);
  try {
    await sweepHostLiveness(deps);
  } catch (err) {
    deps.log.error("host liveness sweep failed", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  try {
    const settled = await settleLapsedCancellations(deps);
    if (settled > 0) deps.log.info("cancellations settled after their leases lapsed", { settled });
  } catch (err) {
    deps.log.error("settling cancellations failed", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  try {
    const report = await reconcile(deps);
    if (report.dispatched + report.markedUnknown + report.recovered + report.failed > 0) {
      deps.log.info("reconciled", report);
    }
  } catch (err) {
    deps.log.error("reconcile failed", { error: err instanceof Error ? err.message : String(err) });
  }
  await recordRun(deps);
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
