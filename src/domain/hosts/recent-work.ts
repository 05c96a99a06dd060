import { and, desc, eq } from "drizzle-orm";
import { type WorkState, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { TERMINAL } from "../work/load-item";

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
  return { ...row, cancelRequested: cancelRequestedAt !== null && !TERMINAL.has(row.state) };
}

/** The newest work items of a host, for people allowed to view the host (404 for others). */
export async function recentHostWork(
  sc: ServiceContext,
  hostId: string,
  limit = 20,
): Promise<HostWorkView[]> {
  await authorizeActor(sc, { type: "host", id: hostId }, "view");
  const rows = await sc.deps.db
    .select(columns)
    .from(workItems)
    .where(eq(workItems.hostId, hostId))
    .orderBy(desc(workItems.seq))
    .limit(limit);
  return rows.map(toView);
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
