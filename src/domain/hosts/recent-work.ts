import { and, desc, eq, lt } from "drizzle-orm";
import { type WorkState, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { cancelPending } from "../work/load-item";

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

function toView({
  cancelRequestedAt,
  ...row
}: Omit<HostWorkView, "cancelRequested"> & { cancelRequestedAt: number | null }): HostWorkView {
  return { ...row, cancelRequested: cancelPending({ cancelRequestedAt, state: row.state }) };
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
    items: page.map(({ seq: _seq, ...row }) => toView(row)),
    nextCursor: rows.length > limit && last ? String(last.seq) : null,
  };
}

/** One work item of this host (404 when the host has no such item). */
export async function hostWorkItem(
  deps: Deps,
  hostId: string,
  itemId: string,
): Promise<HostWorkView> {
  const [row] = await deps.db
    .select(columns)
    .from(workItems)
    .where(and(eq(workItems.id, itemId), eq(workItems.hostId, hostId)))
    .limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `Host ${hostId} has no work item ${itemId}.`);
  return toView(row);
}
