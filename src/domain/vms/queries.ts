import { and, asc, desc, eq, gt, like, lt, or } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/database";
import type { ObservedState } from "../../db/schema";
import { operations, vms } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { projectRef } from "../orgs/shared";
import { loadOperation, type OperationRow } from "./operations";
import { loadVm, type VmRow, vmRef } from "./shared";

/** Orders of the VM list; each pages by keyset on its own key, the id breaking ties. */
export const VM_SORTS = ["created_desc", "created_asc", "name_asc", "name_desc"] as const;
export type VmSort = (typeof VM_SORTS)[number];

export type VmListQuery = {
  state?: ObservedState | undefined;
  /** Case-insensitive substring of the name. */
  q?: string | undefined;
  /** Newest first unless said otherwise. */
  sort?: VmSort | undefined;
  limit: number;
  /** Opaque keyset cursor from the previous page (`next`), valid for the same sort only. */
  cursor?: string | undefined;
};

type Cursor = { sort: VmSort; key: string | number; id: string };

const cursorSchema = z.object({
  s: z.enum(VM_SORTS),
  k: z.union([z.string(), z.number().int()]),
  i: z.string().min(1),
});

function encodeCursor(sort: VmSort, vm: VmRow): string {
  const key = sort.startsWith("name") ? vm.name : vm.createdAt;
  const json = JSON.stringify({ s: sort, k: key, i: vm.id });
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string, sort: VmSort): Cursor {
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed = cursorSchema.parse(JSON.parse(json));
    const byName = parsed.s.startsWith("name");
    if (parsed.s !== sort || typeof parsed.k !== (byName ? "string" : "number"))
      throw new Error("cursor of another order");
    return { sort: parsed.s, key: parsed.k, id: parsed.i };
  } catch {
    throw new ServiceError("VALIDATION", "The cursor is not one this API returned.", [
      {
        in: "query",
        field: "cursor",
        code: "invalid",
        message: "use the `next` value of the previous page, with the same sort",
      },
    ]);
  }
}

/** The ORDER BY and the "after this row" condition of one sort. */
function ordering(sort: VmSort, after: Cursor | null) {
  const column = sort.startsWith("name") ? vms.name : vms.createdAt;
  const ascending = sort.endsWith("_asc");
  const beyond = ascending ? gt : lt;
  const order = ascending ? [asc(column), asc(vms.id)] : [desc(column), desc(vms.id)];
  const where = after
    ? or(beyond(column, after.key), and(eq(column, after.key), beyond(vms.id, after.id)))
    : undefined;
  return { order, where };
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
  return vmPage(sc.deps.db, projectId, query);
}

/**
 * One page of the project's VMs, unauthorized: for `listVms` after its check, and for the live
 * list's change marker (its stream checked access when it opened). An indexed keyset query, so
 * its cost does not grow with the project.
 */
export async function vmPage(
  db: Database,
  projectId: string,
  query: VmListQuery,
): Promise<{ items: VmRow[]; next: string | null }> {
  const sort = query.sort ?? "created_desc";
  const after = query.cursor ? decodeCursor(query.cursor, sort) : null;
  const { order, where } = ordering(sort, after);
  const rows = await db
    .select()
    .from(vms)
    .where(
      and(
        eq(vms.projectId, projectId),
        query.state ? eq(vms.observedState, query.state) : undefined,
        query.q
          ? like(vms.name, `%${query.q.toLowerCase().replaceAll(/[%_\\]/g, "")}%`)
          : undefined,
        where,
      ),
    )
    .orderBy(...order)
    // One more than a page tells whether another page exists.
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > query.limit && last ? encodeCursor(sort, last) : null };
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
