import { eq, sql } from "drizzle-orm";
import { operations, vms, vmTelemetrySamples } from "../../db/schema";
import type { Deps } from "../../deps";

/**
 * Change markers of the live VM views: one cheap query each, read every second or so by every open
 * stream (src/web/live/stream.ts), so no authorization here (the stream's caller checked it) and
 * nothing the view does not show.
 */

/**
 * Everything the detail page's live panel shows changes one of: the VM row (state, reason, host,
 * `updated_at`), its latest operation (status and steps: the progress) and its latest telemetry
 * sample (console, activity). Null when the VM is gone.
 */
export async function vmMarker(deps: Pick<Deps, "db">, vmId: string): Promise<string | null> {
  const [row] = await deps.db
    .select({
      updatedAt: vms.updatedAt,
      observed: vms.observedState,
      desired: vms.desiredState,
      reason: vms.stateReason,
      hostId: vms.hostId,
      operation: sql<string | null>`(
        select ${operations.id} || ' ' || ${operations.status} || ' ' || ${operations.steps}
        from ${operations}
        where ${operations.targetType} = 'vm' and ${operations.targetId} = ${vms.id}
        order by ${operations.createdAt} desc, ${operations.id} desc limit 1)`,
      telemetry: sql<number | null>`(
        select max(${vmTelemetrySamples.id}) from ${vmTelemetrySamples}
        where ${vmTelemetrySamples.vmId} = ${vms.id})`,
    })
    .from(vms)
    .where(eq(vms.id, vmId))
    .limit(1);
  if (!row || row.observed === "deleted") return null;
  return JSON.stringify(row);
}
