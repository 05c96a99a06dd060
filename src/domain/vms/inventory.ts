import { and, eq } from "drizzle-orm";
import { OBSERVED_STATES, type ObservedState, operations, vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext, type Statement } from "../context";
import { vmRef } from "./shared";
import { type ReportedTelemetry, reportedTelemetry, telemetryStatements } from "./telemetry-report";

export type InventoryEntry = {
  id: string;
  state: string;
  reason?: string | undefined;
  /** Console tail and I/O counters of a running VM, when valid. */
  telemetry?: ReportedTelemetry | undefined;
};

/**
 * The entries of a status report's `inventory` that name a VM and a state (`{id, state,
 * reason?}`, plus `console_tail` and `counters`); anything else in the report is for people, not
 * for reconciling.
 */
export function inventoryEntries(report: readonly Record<string, unknown>[]): InventoryEntry[] {
  const entries: InventoryEntry[] = [];
  for (const r of report) {
    if (typeof r.id !== "string" || typeof r.state !== "string") continue;
    const telemetry = reportedTelemetry(r);
    entries.push({
      id: r.id,
      state: r.state,
      ...(typeof r.reason === "string" ? { reason: r.reason.slice(0, 500) } : {}),
      ...(telemetry ? { telemetry } : {}),
    });
  }
  return entries;
}

/** States an operation in flight is moving the VM through: the inventory must not fight them. */
export const IN_FLIGHT_STATES = [
  "pending",
  "scheduling",
  "provisioning",
  "stopping",
  "deleting",
] as const satisfies readonly ObservedState[];
const IN_FLIGHT: ReadonlySet<ObservedState> = new Set(IN_FLIGHT_STATES);

/**
 * Applies a host's VM inventory (from its status report): a VM whose state differs is updated
 * with the host's reason (e.g. the VMM died), unless an operation on it is under way; a VM the
 * host runs but the database does not know (or knows on another host) is reported in the audit
 * log — never deleted; a settled VM the host does not report becomes `error`. Telemetry of the
 * host's VMs is stored as one sample per report, pruned to the last hour in the same batch.
 */
export async function applyInventory(
  deps: Deps,
  hostId: string,
  inventory: readonly InventoryEntry[],
): Promise<void> {
  const now = deps.clock.now();
  const sc: ServiceContext = {
    deps,
    actor: { kind: "host", hostId },
    requestId: `inventory:${hostId}:${now}`,
  };
  const known = await deps.db.select().from(vms).where(eq(vms.hostId, hostId));
  const busy = new Set(
    (
      await deps.db
        .select({ id: operations.targetId })
        .from(operations)
        .where(and(eq(operations.targetType, "vm"), eq(operations.status, "running")))
    ).map((o) => o.id),
  );
  const statements: Statement[] = [];
  for (const entry of inventory) {
    const vm = known.find((v) => v.id === entry.id);
    if (!vm) {
      statements.push(
        auditStatement(sc, {
          action: "host.unknown_vm",
          target: { type: "host", id: hostId },
          outcome: "failure",
          detail: {
            vmId: entry.id,
            state: entry.state,
            note: "running on the host but not known here; left alone",
          },
        }),
      );
      continue;
    }
    // Only for the host's own VMs: a host cannot write samples for another host's VM.
    if (entry.telemetry) statements.push(...telemetryStatements(deps, vm.id, entry.telemetry, now));
    if (!(OBSERVED_STATES as readonly string[]).includes(entry.state)) continue;
    const state = entry.state as ObservedState;
    if (state === vm.observedState || busy.has(vm.id) || IN_FLIGHT.has(vm.observedState)) continue;
    statements.push(
      deps.db
        .update(vms)
        .set({
          observedState: state,
          stateReason: entry.reason ?? `reported by ${hostId}`,
          updatedAt: now,
        })
        .where(eq(vms.id, vm.id)),
      auditStatement(sc, {
        action: "vm.observed_change",
        target: vmRef(vm.id),
        orgId: vm.orgId,
        detail: { from: vm.observedState, to: state, reason: entry.reason ?? null },
      }),
    );
  }
  // A VM the host should have but does not report has been lost there (e.g. its disk is gone).
  const reported = new Set(inventory.map((e) => e.id));
  for (const vm of known) {
    const settled =
      vm.observedState === "running" ||
      vm.observedState === "paused" ||
      vm.observedState === "stopped";
    if (!settled || reported.has(vm.id) || busy.has(vm.id)) continue;
    statements.push(
      deps.db
        .update(vms)
        .set({
          observedState: "error",
          stateReason: `host ${hostId} does not report this VM`,
          updatedAt: now,
        })
        .where(eq(vms.id, vm.id)),
      auditStatement(sc, {
        action: "vm.lost",
        target: vmRef(vm.id),
        orgId: vm.orgId,
        outcome: "failure",
        detail: { hostId },
      }),
    );
  }
  await commit(deps.db, statements);
}
