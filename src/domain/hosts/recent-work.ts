import { and, desc, eq, lt } from "drizzle-orm";
import { type WorkState, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { cancelPending, findHostItem, type WorkItemRow } from "../work/load-item";

export type HostWorkView = {
  id: string;
  op: string;
  resourceKind: string;
  resourceId: string;
  state: WorkState;
  outcome: string | null;
  /** Cancellation was asked for and the host has yet to stop the item. */
  cancelRequested: boolean;
  createdAt: number;
  finishedAt: number | null;
};

const columns = {
  id: workItems.id,
  op: workItems.op,
  resourceKind: workItems.resourceKind,
  resourceId: workItems.resourceId,
  state: workItems.state,
  outcome: workItems.outcome,
  cancelRequestedAt: workItems.cancelRequestedAt,
  createdAt: workItems.createdAt,
  finishedAt: workItems.finishedAt,
};

/** The view of a row with (at least) `columns`: other columns, like params, stay out. */
function toView(row: Pick<WorkItemRow, keyof typeof columns>): HostWorkView {
  return {
    id: row.id,
    op: row.op,
    resourceKind: row.resourceKind,
    resourceId: row.resourceId,
    state: row.state,
    outcome: row.outcome,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt,
    cancelRequested: cancelPending(row),
  };
}

export type HostWorkQuery = {
  limit?: number;
  /** Only items in this state. */
  state?: WorkState;
  /** `nextCursor` of the previous page. */
  cursor?: string;
};

/**
 * A host's work items, newest first, a page at a time (keyset on `seq`, through the host's
 * indexes), for people allowed to view the host (404 for others).
 */
export async function recentHostWork(
  sc: ServiceContext,
  hostId: string,
  query: HostWorkQuery = {},
): Promise<{ items: HostWorkView[]; nextCursor: string | null }> {
  await authorizeActor(sc, { type: "host", id: hostId }, "view");
  const limit = query.limit ?? 20;
  const before = query.cursor === undefined ? undefined : Number(query.cursor);
  if (before !== undefined && !(Number.isSafeInteger(before) && before > 0)) {
    throw new ServiceError("VALIDATION", "Not a cursor of this list.", [
      { in: "query", field: "cursor", code: "invalid", message: "Pass a nextCursor as it came." },
    ]);
  }
  const rows = await sc.deps.db
    .select({ ...columns, seq: workItems.seq })
    .from(workItems)
    .where(
      and(
        eq(workItems.hostId, hostId),
        query.state === undefined ? undefined : eq(workItems.state, query.state),
        before === undefined ? undefined : lt(workItems.seq, before),
      ),
    )
    .orderBy(desc(workItems.seq))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => toView(row)),
    nextCursor: rows.length > limit && last ? String(last.seq) : null,
  };
}

/** One work item of this host, whole (404 when the host has no such item). */
export async function hostWorkItemRow(
  deps: Deps,
  hostId: string,
  itemId: string,
): Promise<WorkItemRow> {
  const item = await findHostItem(deps, hostId, itemId);
  if (!item) throw new ServiceError("NOT_FOUND", `Host ${hostId} has no work item ${itemId}.`);
  return item;
}

/** One work item of this host (404 when the host has no such item). */
export async function hostWorkItem(
  deps: Deps,
  hostId: string,
  itemId: string,
): Promise<HostWorkView> {
  return toView(await hostWorkItemRow(deps, hostId, itemId));
}
