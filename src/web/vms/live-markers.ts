import { count, eq, max, sql } from "drizzle-orm";
import {
  DESIRED_STATES,
  OBSERVED_STATES,
  operations,
  vms,
  vmTelemetrySamples,
} from "../../db/schema";
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

/** Each state's position in one string: a number per state, for the list marker's sum. */
const STATE_CODES = `|${[...OBSERVED_STATES, ...DESIRED_STATES].join("|")}|`;

/**
 * The project's VMs, in aggregate (the list re-renders its page on any change): a VM created or
 * removed changes the count; any change of a VM (state, name, size) moves its `updated_at` and so
 * the sum (the max alone would miss a write stamped by an isolate whose clock is behind); and the
 * states themselves, as codes weighted by row, change it even when two writes share a millisecond.
 */
export async function projectVmsMarker(deps: Pick<Deps, "db">, projectId: string): Promise<string> {
  const code = (column: typeof vms.observedState | typeof vms.desiredState) =>
    sql`instr(${STATE_CODES}, '|' || ${column} || '|')`;
  const [row] = await deps.db
    .select({
      vms: count(),
      latest: max(vms.updatedAt),
      stamps: sql<number | null>`total(${vms.updatedAt})`,
      states: sql<
        number | null
      >`total(${vms}.rowid * (${code(vms.observedState)} * 256 + ${code(vms.desiredState)}))`,
    })
    .from(vms)
    .where(eq(vms.projectId, projectId));
  return JSON.stringify(row ?? null);
}
