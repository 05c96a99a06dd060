import { and, eq, inArray } from "drizzle-orm";
import {
  type DesiredState,
  hosts,
  OBSERVED_STATES,
  type ObservedState,
  type OperationStep,
  operations,
  vms,
  vmTelemetrySamples,
} from "../../db/schema";
import type { Deps } from "../../deps";
import type { ResultRequest } from "../../protocol/agent-api";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext, type Statement } from "../context";
import { deleteTuples } from "../relationships";
import { vmRef } from "./shared";

/**
 * Where each kind of operation leaves the VM when it succeeds (unless the agent says otherwise);
 * a resize leaves it as it was.
 */
const SUCCESS_STATE: Record<string, ObservedState> = {
  "vm.create": "running",
  "vm.start": "running",
  "vm.restart": "running",
  "vm.resume": "running",
  "vm.stop": "stopped",
  "vm.pause": "paused",
  "vm.delete": "deleted",
};

/** What a request shows until its host reports back (see change-state.ts). */
const REQUESTED_STATES: ReadonlySet<ObservedState> = new Set(["pending", "stopping", "deleting"]);

/** The desired state that matches a settled observed one. */
const SETTLED_DESIRED: Partial<Record<ObservedState, DesiredState>> = {
  running: "running",
  paused: "running",
  stopped: "stopped",
};

function observedFrom(result: ResultRequest, kind: string): ObservedState | undefined {
  const reported = result.observed?.state;
  if (typeof reported === "string" && (OBSERVED_STATES as readonly string[]).includes(reported)) {
    return reported as ObservedState;
  }
  return result.outcome === "succeeded" ? SUCCESS_STATE[kind] : undefined;
}

export type ResultItem = {
  id: string;
  hostId: string;
  op: string;
  idem: string;
  resourceId: string;
};

/**
 * Applies an agent's result for a VM work item: the operation finishes (succeeded or failed with
 * the agent's code), the VM's observed state follows what the host saw, and a deleted VM releases
 * its name, capacity and relationships. One batch, audited as the host's doing.
 */
export async function applyVmResult(
  deps: Deps,
  item: ResultItem,
  result: ResultRequest,
): Promise<void> {
  await commit(deps.db, await vmResultStatements(deps, item, result));
}

/**
 * The statements of `applyVmResult`, for the caller to commit with the result itself. `ran` is
 * false for an item that ended without running (refused, past its deadline, cancelled): the
 * operation ends, the VM's observed state stays what it was (a create's VM becomes `error`).
 */
export async function vmResultStatements(
  deps: Deps,
  item: ResultItem,
  result: ResultRequest,
  ran = true,
  /** Who ended it, when not the host (an operation cancelled before it was queued). */
  by?: ServiceContext,
): Promise<Statement[]> {
  const [operation] = await deps.db
    .select()
    .from(operations)
    .where(eq(operations.id, item.idem))
    .limit(1);
  const [vm] = await deps.db.select().from(vms).where(eq(vms.id, item.resourceId)).limit(1);
  if (!vm) return [];
  const now = deps.clock.now();
  const sc: ServiceContext = by ?? {
    deps,
    actor: { kind: "host", hostId: item.hostId },
    requestId: `work:${item.id}`,
  };
  const succeeded = result.outcome === "succeeded";
  const observed = observedFrom(result, item.op);
  const reason = succeeded
    ? `${item.op} done on ${item.hostId}`
    : `${item.op} ${result.outcome}: ${result.error?.code ?? "no code"}${result.error?.message ? ` (${result.error.message})` : ""}`;
  const statements: Statement[] = [];
  if (operation && (operation.status === "pending" || operation.status === "running")) {
    const steps: OperationStep[] = operation.steps.map((s) =>
      s.status === "done" ? s : { ...s, status: succeeded ? "done" : "failed", at: now },
    );
    statements.push(
      deps.db
        .update(operations)
        .set({
          status: succeeded ? "succeeded" : result.outcome === "cancelled" ? "cancelled" : "failed",
          steps,
          errorCode: succeeded ? null : (result.error?.code ?? result.outcome),
          errorHint: succeeded
            ? null
            : (result.error?.message ?? `The host reported ${result.outcome}.`),
          finishedAt: now,
        })
        // Still open: a result that races another ending (a cancel, a revoke) does not rewrite it.
        .where(
          and(eq(operations.id, operation.id), inArray(operations.status, ["pending", "running"])),
        ),
    );
  }
  // An item that never ran leaves the VM as its host last reported it (not in the state the
  // request moved it to, e.g. `stopping`). A create leaves no VM on the host: nothing can start
  // it, so it shows as an error the user can delete.
  const notRun = !ran && !succeeded;
  const lastReport = notRun ? await reportedEntry(deps, item.hostId, vm.id) : undefined;
  const lastReported = stateOf(lastReport);
  // A resize that did not happen gives back what it reserved: the size the host says the VM has
  // (in this result, or for one that never ran, in its last report).
  const sizeBack =
    item.op === "vm.resize" && !succeeded
      ? (sizeOf(result.observed) ?? sizeOf(lastReport))
      : undefined;
  const unchanged = succeeded || (notRun && item.op !== "vm.create");
  // Only a delete removes the VM. Another op that finds it gone from its host (a start of a VM
  // whose create never ran there, a host that lost its disks) leaves an error VM for its user to
  // see and delete, never one that silently vanished.
  const gone = observed === "deleted";
  const deleted = gone && item.op === "vm.delete";
  if (deleted) {
    // Gone from the host: the row, its relationships, its name and its capacity go too.
    // Telemetry explicitly too: foreign keys (ON DELETE CASCADE) are not enforced everywhere.
    statements.push(
      deps.db.delete(vmTelemetrySamples).where(eq(vmTelemetrySamples.vmId, vm.id)),
      deps.db.delete(vms).where(eq(vms.id, vm.id)),
      deleteTuples(sc, vmRef(vm.id)),
    );
  } else {
    const before = unchanged ? vm.observedState : "error";
    // Without a report, a state only the request set is not kept: the next report says.
    const observedState = gone
      ? "error"
      : (observed ?? lastReported ?? (notRun && REQUESTED_STATES.has(before) ? "unknown" : before));
    statements.push(
      deps.db
        .update(vms)
        .set({
          observedState,
          // What was asked did not happen: the VM is meant to stay as it is.
          ...(notRun && item.op !== "vm.create" && SETTLED_DESIRED[observedState]
            ? { desiredState: SETTLED_DESIRED[observedState] }
            : {}),
          ...sizeBack,
          stateReason: reason.slice(0, 500),
          updatedAt: now,
        })
        .where(eq(vms.id, vm.id)),
    );
  }
  statements.push(
    auditStatement(sc, {
      action: `${item.op}.result`,
      target: vmRef(vm.id),
      orgId: vm.orgId,
      outcome: succeeded ? "success" : "failure",
      detail: {
        hostId: item.hostId,
        workItemId: item.id || null,
        outcome: result.outcome,
        error: result.error ?? null,
      },
    }),
  );
  return statements;
}

/** The VM's entry in its host's last status report (its state, and the size it has there). */
async function reportedEntry(
  deps: Deps,
  hostId: string,
  vmId: string,
): Promise<Record<string, unknown> | undefined> {
  const [host] = await deps.db
    .select({ status: hosts.status })
    .from(hosts)
    .where(eq(hosts.id, hostId))
    .limit(1);
  const inventory = host?.status?.inventory;
  if (!Array.isArray(inventory)) return undefined;
  return inventory.find((r) => r.id === vmId);
}

function stateOf(entry: Record<string, unknown> | undefined): ObservedState | undefined {
  const state = entry?.state;
  return typeof state === "string" && (OBSERVED_STATES as readonly string[]).includes(state)
    ? (state as ObservedState)
    : undefined;
}

/** vCPUs, memory and disk as an agent reports them, when it reports all three. */
function sizeOf(
  reported: Record<string, unknown> | undefined,
): { vcpus: number; memoryMb: number; diskGb: number } | undefined {
  const { vcpus, memoryMb, diskGb } = reported ?? {};
  const whole = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n > 0;
  return whole(vcpus) && whole(memoryMb) && whole(diskGb) ? { vcpus, memoryMb, diskGb } : undefined;
}
