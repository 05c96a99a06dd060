import { and, eq, sql } from "drizzle-orm";
import { operations, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { loadImage } from "../images/images";
import { enqueueWorkIf } from "../work/enqueue";
import type { VmOperationKind } from "./operations";
import type { VmRow } from "./shared";

/** How long an agent has to start a VM operation before the item expires (and is re-dispatched). */
const START_WINDOW_MS = 10 * 60_000;

/** The parameters the agent's VM ops need (see agent/src/ops): everything, so retries converge. */
async function paramsFor(
  deps: Deps,
  kind: VmOperationKind,
  vm: VmRow,
): Promise<Record<string, unknown>> {
  const spec = { name: vm.name, vcpus: vm.vcpus, memoryMb: vm.memoryMb, diskGb: vm.diskGb };
  if (kind !== "vm.create")
    return kind === "vm.stop" ? { ...spec, graceful: true, timeoutS: 60 } : spec;
  const image = await loadImage(deps, vm.imageId);
  return {
    ...spec,
    image: { id: image.id, url: image.url, sha256: image.sha256, format: image.format },
    sshKeys: vm.sshKeys,
    userData: vm.userData,
  };
}

/**
 * Queues the work item that carries out an operation on the VM's host. The item's `idem` is the
 * operation id, so a re-dispatched item for the same operation is one execution on the agent.
 * Returns false when the operation already has an item (dispatch is idempotent).
 */
export async function dispatch(
  deps: Deps,
  operationId: string,
  kind: VmOperationKind,
  vm: VmRow,
): Promise<boolean> {
  if (vm.hostId === null) return false;
  // Checked in the INSERT itself: a request's dispatch and the reconciler's at once queue one
  // item, and an operation cancelled meanwhile queues none (its delete must never run).
  const wanted = sql`EXISTS (SELECT 1 FROM ${operations} WHERE ${operations.id} = ${operationId}
      AND ${operations.status} IN ('pending', 'running'))
    AND NOT EXISTS (SELECT 1 FROM ${workItems} WHERE ${workItems.hostId} = ${vm.hostId}
      AND ${workItems.idem} = ${operationId})`;
  const queued = await enqueueWorkIf(
    deps,
    {
      hostId: vm.hostId,
      op: kind,
      resource: { kind: "vm", id: vm.id, uid: vm.id },
      gen: vm.generation,
      idem: operationId,
      params: await paramsFor(deps, kind, vm),
      startByMs: deps.clock.now() + START_WINDOW_MS,
      createdBy: `operation:${operationId}`,
    },
    wanted,
  );
  if (!queued) return false;
  await deps.db
    .update(operations)
    .set({ status: "running", startedAt: deps.clock.now() })
    .where(and(eq(operations.id, operationId), eq(operations.status, "pending")));
  return true;
}

/**
 * `dispatch` right after a request committed its operation: the request is answered 202 with the
 * operation either way. One that cannot be queued now (its host disabled meanwhile, the database
 * unreachable) stays `pending`; the reconciler queues it later, or fails it after 15 minutes with
 * the VM as its host last reported it.
 */
export async function dispatchAfterCommit(
  deps: Deps,
  operationId: string,
  kind: VmOperationKind,
  vm: VmRow,
): Promise<void> {
  try {
    await dispatch(deps, operationId, kind, vm);
  } catch (error) {
    deps.log.warn("dispatch failed; the reconciler retries it", {
      operationId,
      hostId: vm.hostId,
      error: String(error),
    });
  }
}
