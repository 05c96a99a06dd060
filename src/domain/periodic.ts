import { syncAuthorizer } from "../authz/sync";
import type { Deps } from "../deps";
import { ensureHostGrace } from "./hosts/grace";
import { reconcile } from "./vms/reconcile";

/**
 * The control plane's periodic work, run by the Worker's cron trigger and a timer on Node: push
 * the authorization outbox, then reconcile VMs. Each job logs and survives its own failure.
 */
export async function runPeriodicJobs(deps: Deps): Promise<void> {
  await ensureHostGrace(deps);
  await syncAuthorizer(deps);
  try {
    const report = await reconcile(deps);
    if (report.dispatched + report.markedUnknown + report.recovered + report.failed > 0) {
      deps.log.info("reconciled", report);
    }
  } catch (err) {
    deps.log.error("reconcile failed", { error: err instanceof Error ? err.message : String(err) });
  }
}
