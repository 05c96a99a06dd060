import { and, eq } from "drizzle-orm";
import type { DesiredState, ObservedState } from "../../db/schema";
import { vms } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { dispatchAfterCommit } from "./dispatch";
import {
  type Idempotency,
  loadOperation,
  type OperationRow,
  operationStatement,
  refuseConcurrent,
  replayed,
  type VmOperationKind,
} from "./operations";
import { loadVm, type VmRow, vmRef } from "./shared";

export type VmAction = "start" | "stop" | "restart" | "pause" | "resume" | "delete";

type Rule = {
  permission: string;
  /** Observed states the action makes sense in. */
  from: readonly ObservedState[];
  desired?: DesiredState;
  /** What the VM shows until the host reports back. */
  observed?: ObservedState;
};

const RULES: Record<VmAction, Rule> = {
  start: {
    permission: "start",
    from: ["stopped", "error"],
    desired: "running",
    observed: "pending",
  },
  stop: {
    permission: "stop",
    from: ["running", "paused", "error", "provisioning", "pending"],
    desired: "stopped",
    observed: "stopping",
  },
  restart: { permission: "restart", from: ["running"] },
  pause: { permission: "pause", from: ["running"] },
  resume: { permission: "resume", from: ["paused"] },
  delete: {
    permission: "delete",
    from: [
      "pending",
      "scheduling",
      "provisioning",
      "running",
      "paused",
      "stopping",
      "stopped",
      "error",
      "unknown",
      // A delete that failed part-way on its host (its record says deleting): deleting again
      // finishes it. Not while another delete is open (refuseConcurrent).
      "deleting",
    ],
    desired: "deleted",
    observed: "deleting",
  },
};

/**
 * A lifecycle action: authorize, check the VM's state (409 `invalid_state`) and that nothing else
 * is under way (409 `operation_in_progress`), then one batch with the new desired state (and a new
 * generation), the operation and the audit event; then the work item for the VM's host.
 */
async function changeVmStateInner(
  sc: ServiceContext,
  vmId: string,
  action: VmAction,
  idem: Idempotency | null,
): Promise<{ vm: VmRow; operation: OperationRow; replay: boolean }> {
  const rule = RULES[action];
  await authorizeActor(sc, vmRef(vmId), rule.permission);
  const earlier = await replayed(sc.deps, sc.actor, idem);
  if (earlier) return { vm: await loadVm(sc.deps, vmId), operation: earlier, replay: true };
  const vm = await loadVm(sc.deps, vmId);
  if (!rule.from.includes(vm.observedState)) {
    throw new ServiceError(
      "CONFLICT",
      `Cannot ${action} a VM that is ${vm.observedState}.`,
      [],
      "invalid_state",
      { observedState: vm.observedState, allowedFrom: rule.from },
    );
  }
  await refuseConcurrent(sc.deps, vmId);
  const kind = `vm.${action}` as VmOperationKind;
  const now = sc.deps.clock.now();
  const updated: VmRow = {
    ...vm,
    desiredState: rule.desired ?? vm.desiredState,
    observedState: rule.observed ?? vm.observedState,
    stateReason: `${action} requested`,
    generation: vm.generation + 1,
    updatedAt: now,
  };
  const op = operationStatement(sc, { kind, vm, idempotency: idem });
  await commit(sc.deps.db, [
    sc.deps.db
      .update(vms)
      .set({
        desiredState: updated.desiredState,
        observedState: updated.observedState,
        stateReason: updated.stateReason,
        generation: updated.generation,
        updatedAt: now,
      })
      // As read: of two lifecycle requests at once, the second changes nothing and is made
      // again on what the first left (then usually 409 operation_in_progress, or its replay).
      .where(and(eq(vms.id, vmId), eq(vms.generation, vm.generation))),
    abortUnlessChanged(sc.deps.db),
    op.statement,
    auditStatement(sc, {
      action: kind,
      target: vmRef(vmId),
      orgId: vm.orgId,
      detail: { operationId: op.id },
    }),
  ]);
  await dispatchAfterCommit(sc.deps, op.id, kind, updated);
  return { vm: updated, operation: await loadOperation(sc.deps, op.id), replay: false };
}

/** changeVmState with its refusals (403, 409) recorded in the audit log too. */
export function changeVmState(
  sc: ServiceContext,
  vmId: string,
  action: VmAction,
  idem: Idempotency | null,
) {
  return auditRefusals(
    sc,
    {
      action: `vm.${action}`,
      target: vmRef(vmId),
      orgId: async () => (await loadVm(sc.deps, vmId)).orgId,
    },
    () => retryStaleOnce(() => changeVmStateInner(sc, vmId, action, idem)),
  );
}
