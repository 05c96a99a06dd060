import { and, eq, inArray, isNull, lt, ne } from "drizzle-orm";
import {
  hosts,
  OBSERVED_STATES,
  type ObservedState,
  operations,
  vms,
  workItems,
} from "../../db/schema";
import type { Deps } from "../../deps";
import type { ResultRequest } from "../../protocol/agent-api";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext } from "../context";
import { hostGraceUntil } from "../hosts/grace";
import { hostHealth } from "../hosts/health";
import { vmResultStatements } from "./apply-result";
import { dispatch } from "./dispatch";
import type { VmOperationKind } from "./operations";
import { vmRef } from "./shared";

/** States a VM returns to when its host is back (all but unknown and deleted). */
const RESTORABLE: ReadonlySet<string> = new Set(
  OBSERVED_STATES.filter((s) => s !== "unknown" && s !== "deleted"),
);

/** How long an operation may wait for its work item to finish before it is dispatched again. */
const STALE_OPERATION_MS = 15 * 60_000;

export type ReconcileReport = {
  dispatched: number;
  markedUnknown: number;
  recovered: number;
  failed: number;
};

/**
 * Closes gaps between what people asked for and what hosts report, in four passes:
 * 1. operations without a work item (a dispatch that failed after the commit) are dispatched;
 * 2. queued items past their deadline expire (whether or not their host still claims); operations
 *    whose work item expired are dispatched again (same `idem`, so the agent runs it once) until
 *    they are too old, then fail as never run (the VM as its host last reported it);
 * 3. VMs on Unreachable/Offline hosts become `unknown` (never moved to another host: the host
 *    may still run them), and come back to their last known state when the host does;
 * 4. nothing else: a VM the host reports but the database does not know is left to the inventory
 *    report (audited there), never deleted here.
 * Runs from the Worker's cron trigger and a timer on Node; safe to run concurrently (idempotent).
 */
export async function reconcile(deps: Deps): Promise<ReconcileReport> {
  const report: ReconcileReport = { dispatched: 0, markedUnknown: 0, recovered: 0, failed: 0 };
  const now = deps.clock.now();
  const sc: ServiceContext = { deps, actor: { kind: "system" }, requestId: `reconcile:${now}` };

  // Queued items past their deadline end even when their host never claims again (offline,
  // disabled): their operations are then lost, below. (A claim does the same for its own host.)
  await deps.db
    .update(workItems)
    .set({ state: "expired", finishedAt: now, updatedAt: now, rejectReason: "deadline" })
    .where(
      and(
        eq(workItems.state, "queued"),
        lt(workItems.startBy, now),
        isNull(workItems.cancelRequestedAt),
      ),
    );

  const open = await deps.db
    .select()
    .from(operations)
    .where(
      and(eq(operations.targetType, "vm"), inArray(operations.status, ["pending", "running"])),
    );
  for (const op of open) {
    const [vm] = await deps.db.select().from(vms).where(eq(vms.id, op.targetId)).limit(1);
    if (!vm?.hostId) continue;
    const [item] = await deps.db
      .select({ id: workItems.id, state: workItems.state })
      .from(workItems)
      .where(and(eq(workItems.hostId, vm.hostId), eq(workItems.idem, op.id)))
      .limit(1);
    const lost = !item || item.state === "expired";
    if (!lost) continue;
    if (now - op.createdAt > STALE_OPERATION_MS) {
      // As an item that never ran: the operation fails, and the VM is left as its host last
      // reported it, not in the state the request moved it to (`stopping`, `deleting`).
      const never = {
        id: item?.id ?? "",
        hostId: vm.hostId,
        op: op.kind,
        idem: op.id,
        resourceId: vm.id,
      };
      const result: ResultRequest = {
        attempt: 0,
        lease_epoch: 0,
        outcome: "failed",
        error: {
          code: "host_did_not_run",
          message:
            "The host did not carry out this operation in time; check the host's health and retry.",
          retryable: true,
        },
      };
      await commit(deps.db, [
        ...(await vmResultStatements(deps, never, result, false, sc)),
        auditStatement(sc, {
          action: `${op.kind}.expired`,
          target: vmRef(vm.id),
          orgId: vm.orgId,
          outcome: "failure",
        }),
      ]);
      report.failed += 1;
      continue;
    }
    if (item?.state === "expired") {
      // A fresh item for the same operation: delete the dead one's claim on `idem` first.
      await deps.db
        .delete(workItems)
        .where(
          and(
            eq(workItems.hostId, vm.hostId),
            eq(workItems.idem, op.id),
            eq(workItems.state, "expired"),
          ),
        );
    }
    try {
      if (await dispatch(deps, op.id, op.kind as VmOperationKind, vm)) report.dispatched += 1;
    } catch (err) {
      deps.log.warn("reconcile: dispatch failed", { operationId: op.id, error: String(err) });
    }
  }

  // Host health decides whether we still know what runs there.
  const live = await deps.db.select().from(vms).where(ne(vms.observedState, "deleted"));
  const hostRows = await deps.db.select().from(hosts);
  const healthOf = new Map(
    hostRows.map((h) => [h.id, hostHealth(h, now, deps.config.agent, hostGraceUntil(deps))]),
  );
  for (const vm of live) {
    if (!vm.hostId) continue;
    const health = healthOf.get(vm.hostId);
    const lostHost = health === "unreachable" || health === "offline";
    if (lostHost && vm.observedState !== "unknown") {
      await commit(deps.db, [
        deps.db
          .update(vms)
          .set({
            observedState: "unknown",
            stateReason: `host ${vm.hostId} is ${health}; was ${vm.observedState}`,
            updatedAt: now,
          })
          .where(and(eq(vms.id, vm.id), eq(vms.observedState, vm.observedState))),
        auditStatement(sc, {
          action: "vm.state_unknown",
          target: vmRef(vm.id),
          orgId: vm.orgId,
          detail: { hostId: vm.hostId, health },
        }),
      ]);
      report.markedUnknown += 1;
    } else if (!lostHost && vm.observedState === "unknown") {
      // Until the host's inventory says otherwise, assume what it last did is still true (an
      // error VM stays an error, a stopping one stopping); what cannot be read waits for it.
      const was = /was (\w+)$/.exec(vm.stateReason)?.[1] ?? "";
      if (!RESTORABLE.has(was)) continue;
      await deps.db
        .update(vms)
        .set({
          observedState: was as ObservedState,
          stateReason: `host ${vm.hostId} is back`,
          updatedAt: now,
        })
        .where(
          and(eq(vms.id, vm.id), eq(vms.observedState, "unknown"), lt(vms.updatedAt, now + 1)),
        );
      report.recovered += 1;
    }
  }
  return report;
}
