import { and, eq } from "drizzle-orm";
import { workItems } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { cancelWork } from "../work/cancel";
import { TERMINAL } from "../work/load-item";
import { vmResultStatements } from "./apply-result";
import { loadOperation, type OperationRow, type VmOperationKind } from "./operations";
import { getOperation } from "./queries";
import { loadVm, vmRef } from "./shared";

/**
 * Who may cancel an operation: whoever may start one of its kind. Cancelling a create gives up
 * the VM, so it takes the right to delete it.
 */
export const CANCEL_PERMISSION: Record<VmOperationKind, string> = {
  "vm.create": "delete",
  "vm.start": "start",
  "vm.stop": "stop",
  "vm.restart": "restart",
  "vm.pause": "pause",
  "vm.resume": "resume",
  "vm.resize": "resize",
  "vm.delete": "delete",
};

/**
 * Cancels a VM operation through its work item (`cancelWork`): one its host has not started ends
 * `cancelled` at once, with the VM as its host last reported it; one the host runs stops at its
 * next safe point and ends as the host reports. An operation no item will run (never queued, or
 * its item expired) is cancelled directly. Cancelling a cancelled operation is a no-op; a finished one is a 409.
 */
export async function cancelOperation(sc: ServiceContext, id: string): Promise<OperationRow> {
  const op = await getOperation(sc, id);
  const target = vmRef(op.targetId);
  return auditRefusals(sc, { action: "operation.cancel", target, orgId: op.orgId }, async () => {
    await authorizeActor(sc, target, CANCEL_PERMISSION[op.kind as VmOperationKind] ?? "update");
    if (op.status === "cancelled") return op;
    if (op.status === "succeeded" || op.status === "failed") {
      throw new ServiceError(
        "CONFLICT",
        `Operation ${op.id} already ended (${op.status}).`,
        [],
        "already_finished",
      );
    }
    const vm = await loadVm(sc.deps, op.targetId);
    const [item] = vm.hostId
      ? await sc.deps.db
          .select({ id: workItems.id, state: workItems.state })
          .from(workItems)
          .where(and(eq(workItems.hostId, vm.hostId), eq(workItems.idem, op.id)))
          .limit(1)
      : [];
    const audit = { action: "operation.cancel", target };
    if (item && !TERMINAL.has(item.state)) {
      await cancelWork(sc, item.id, { audit });
    } else {
      // No item will run: it was never queued (its dispatch failed) or it ended without a result
      // for the operation (expired). The reconciler would dispatch it again; it ends here.
      const itemOf = {
        id: item?.id ?? "",
        hostId: vm.hostId ?? "",
        op: op.kind,
        idem: op.id,
        resourceId: vm.id,
      };
      const cancelled = {
        attempt: 0,
        lease_epoch: 0,
        outcome: "cancelled" as const,
        error: { code: "cancelled", message: "Cancelled before a host ran it.", retryable: false },
      };
      await commit(sc.deps.db, [
        ...(await vmResultStatements(sc.deps, itemOf, cancelled, false, sc)),
        auditStatement(sc, { ...audit, orgId: op.orgId, detail: { operationId: op.id } }),
      ]);
    }
    return loadOperation(sc.deps, op.id);
  });
}
