import { and, eq } from "drizzle-orm";
import { vms } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { hostAllowance, placeVm } from "../scheduler/place";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { capacityGuard } from "./capacity-guard";
import { dispatchAfterCommit } from "./dispatch";
import {
  type Idempotency,
  loadOperation,
  type OperationRow,
  operationStatement,
  refuseConcurrent,
  replayed,
} from "./operations";
import { hostCandidates } from "./placement";
import { projectQuota, quotaShortfall } from "./quotas";
import type { ResizeVmInput } from "./schemas";
import { loadVm, type VmRow, vmRef } from "./shared";

function conflict(message: string, field: string, vm: VmRow): ServiceError {
  return new ServiceError(
    "CONFLICT",
    message,
    [{ in: "body", field, code: "invalid_state", message }],
    "invalid_state",
    { observedState: vm.observedState },
  );
}

/**
 * Resizes a stopped VM: vCPUs and memory (Cloud Hypervisor hot-plug is not offered) and the disk,
 * which only grows. The disk waits for a stop too: a root disk is a qcow2 overlay on its image,
 * and Cloud Hypervisor refuses to resize one with a backing file while it runs. The increase must
 * fit the project's quota and the VM's host (the VM never moves); the new size is reserved at once.
 */
async function resizeVmInner(
  sc: ServiceContext,
  vmId: string,
  input: ResizeVmInput,
  idem: Idempotency | null,
): Promise<{ vm: VmRow; operation: OperationRow; replay: boolean }> {
  await authorizeActor(sc, vmRef(vmId), "resize");
  const earlier = await replayed(sc.deps, sc.actor, idem);
  if (earlier) return { vm: await loadVm(sc.deps, vmId), operation: earlier, replay: true };
  const vm = await loadVm(sc.deps, vmId);
  const next = {
    vcpus: input.vcpus ?? vm.vcpus,
    memoryMb: input.memoryMb ?? vm.memoryMb,
    diskGb: input.diskGb ?? vm.diskGb,
  };
  if (next.diskGb < vm.diskGb) {
    throw new ServiceError("VALIDATION", `A disk can only grow (it is ${vm.diskGb} GB).`, [
      { in: "body", field: "diskGb", code: "too_small", message: `at least ${vm.diskGb} GB` },
    ]);
  }
  const changed = (["vcpus", "memoryMb", "diskGb"] as const).find((k) => next[k] !== vm[k]);
  if (changed && vm.observedState !== "stopped") {
    throw conflict(`Stop the VM to resize it (it is ${vm.observedState}).`, changed, vm);
  }
  if (!["running", "stopped"].includes(vm.observedState)) {
    throw conflict(`Cannot resize a VM that is ${vm.observedState}.`, "diskGb", vm);
  }
  await refuseConcurrent(sc.deps, vmId);

  const grow = {
    vcpus: Math.max(0, next.vcpus - vm.vcpus),
    memoryMb: Math.max(0, next.memoryMb - vm.memoryMb),
    diskGb: Math.max(0, next.diskGb - vm.diskGb),
  };
  const { limits, usage } = await projectQuota(sc.deps, vm.projectId);
  const over = quotaShortfall(limits, usage, { vms: 0, ...grow });
  if (over) {
    throw new ServiceError(
      "CONFLICT",
      `The project's ${over.resource} quota is ${over.limit}; ${over.used} in use, ${over.requested} more requested.`,
      [],
      "no_capacity",
      { scope: "quota", quota: over },
    );
  }
  const host = (await hostCandidates(sc.deps, vm.orgId)).filter((h) => h.id === vm.hostId);
  const policy = sc.deps.config.placement;
  const fits = placeVm(host, grow, policy);
  if (!fits.ok) {
    throw new ServiceError(
      "CONFLICT",
      `The VM's host cannot take that: ${fits.detail}`,
      [],
      "no_capacity",
      { scope: fits.scope },
    );
  }

  const now = sc.deps.clock.now();
  const updated: VmRow = {
    ...vm,
    ...next,
    stateReason: "resize requested",
    generation: vm.generation + 1,
    updatedAt: now,
  };
  const op = operationStatement(sc, { kind: "vm.resize", vm, idempotency: idem });
  await commit(sc.deps.db, [
    sc.deps.db
      .update(vms)
      .set({
        ...next,
        stateReason: updated.stateReason,
        generation: updated.generation,
        updatedAt: now,
      })
      // As read: of two lifecycle requests at once, the second changes nothing and is made
      // again on what the first left (then usually 409 operation_in_progress, or its replay).
      .where(and(eq(vms.id, vmId), eq(vms.generation, vm.generation))),
    abortUnlessChanged(sc.deps.db),
    // A create may have taken the room on the host (or in the quota) since the checks above.
    capacityGuard(
      sc.deps.db,
      { id: vm.projectId, limits },
      host[0] ? { id: host[0].id, allowance: hostAllowance(host[0], policy) } : null,
    ),
    op.statement,
    auditStatement(sc, {
      action: "vm.resize",
      target: vmRef(vmId),
      orgId: vm.orgId,
      detail: {
        operationId: op.id,
        from: { vcpus: vm.vcpus, memoryMb: vm.memoryMb, diskGb: vm.diskGb },
        to: next,
      },
    }),
  ]);
  await dispatchAfterCommit(sc.deps, op.id, "vm.resize", updated);
  return { vm: updated, operation: await loadOperation(sc.deps, op.id), replay: false };
}

/** resizeVm with its refusals (403, 409) recorded in the audit log too. */
export function resizeVm(
  sc: ServiceContext,
  vmId: string,
  input: ResizeVmInput,
  idem: Idempotency | null,
) {
  return auditRefusals(
    sc,
    {
      action: "vm.resize",
      target: vmRef(vmId),
      orgId: async () => (await loadVm(sc.deps, vmId)).orgId,
    },
    () => retryStaleOnce(() => resizeVmInner(sc, vmId, input, idem)),
  );
}
