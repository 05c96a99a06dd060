import { and, desc, eq, like, lt, or } from "drizzle-orm";
import type { ObservedState } from "../../db/schema";
import { operations, vms } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { projectRef } from "../orgs/shared";
import { loadOperation, type OperationRow } from "./operations";
import { loadVm, type VmRow, vmRef } from "./shared";

export type VmListQuery = {
  state?: ObservedState | undefined;
  /** Case-insensitive substring of the name. */
  q?: string | undefined;
  limit: number;
  /** Opaque keyset cursor from the previous page (`next`). */
  cursor?: string | undefined;
};

function encodeCursor(vm: VmRow): string {
  return btoa(`${vm.createdAt}:${vm.id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [at, id] = atob(cursor).split(":");
    const createdAt = Number(at);
    if (!id || !Number.isSafeInteger(createdAt)) throw new Error("bad cursor");
    return { createdAt, id };
  } catch {
    throw new ServiceError("VALIDATION", "The cursor is not one this API returned.", [
      {
        in: "query",
        field: "cursor",
        code: "invalid",
        message: "use the `next` value of the previous page",
      },
    ]);
  }
}

/**
 * The project's VMs the caller may see, newest first, a page at a time (keyset pagination: stable
 * under inserts). Visibility is the project's: one check, not a lookup or a check per VM.
 */
export async function listVms(
  sc: ServiceContext,
  projectId: string,
  query: VmListQuery,
): Promise<{ items: VmRow[]; next: string | null }> {
  // In the model a VM is visible exactly to those who see its project (`vm.view = project.view`,
  // pinned by test/contract/authz-strato.test.ts), so the project check filters the whole list:
  // no per-VM lookup whose size (and SQL variable count) grows with the fleet.
  await authorizeActor(sc, projectRef(projectId), "view");
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  const rows = await sc.deps.db
    .select()
    .from(vms)
    .where(
      and(
        eq(vms.projectId, projectId),
        query.state ? eq(vms.observedState, query.state) : undefined,
        query.q
          ? like(vms.name, `%${query.q.toLowerCase().replaceAll(/[%_\\]/g, "")}%`)
          : undefined,
        after
          ? or(
              lt(vms.createdAt, after.createdAt),
              and(eq(vms.createdAt, after.createdAt), lt(vms.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(vms.createdAt), desc(vms.id))
    // One more than a page tells whether another page exists.
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > query.limit && last ? encodeCursor(last) : null };
}

export async function getVm(sc: ServiceContext, vmId: string): Promise<VmRow> {
  await authorizeActor(sc, vmRef(vmId), "view");
  return loadVm(sc.deps, vmId);
}

/** An operation, visible to whoever may see its project (it outlives a deleted VM). */
export async function getOperation(sc: ServiceContext, id: string): Promise<OperationRow> {
  const op = await loadOperation(sc.deps, id).catch(() => null);
  if (!op) throw new ServiceError("NOT_FOUND", `No operation ${id}.`);
  await authorizeActor(sc, projectRef(op.projectId), "view");
  return op;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Long-poll: the operation once it has finished or `waitMs` has passed, whichever is first. */
export async function waitForOperation(
  sc: ServiceContext,
  id: string,
  waitMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<OperationRow> {
  let op = await getOperation(sc, id);
  const deadline = Date.now() + waitMs;
  while (!TERMINAL.has(op.status) && Date.now() < deadline) {
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    op = await loadOperation(sc.deps, id);
  }
  return op;
}

export async function listVmOperations(
  sc: ServiceContext,
  vmId: string,
  limit = 50,
): Promise<OperationRow[]> {
  const vm = await getVm(sc, vmId);
  return sc.deps.db
    .select()
    .from(operations)
    .where(and(eq(operations.targetType, "vm"), eq(operations.targetId, vm.id)))
    .orderBy(desc(operations.createdAt), desc(operations.id))
    .limit(limit);
}

/** A project's operations (all its VMs', deleted ones included), newest first. */
export async function listProjectOperations(
  sc: ServiceContext,
  projectId: string,
  limit = 50,
): Promise<OperationRow[]> {
  await authorizeActor(sc, projectRef(projectId), "view");
  return sc.deps.db
    .select()
    .from(operations)
    .where(eq(operations.projectId, projectId))
    .orderBy(desc(operations.createdAt), desc(operations.id))
    .limit(limit);
}
