import { desc, eq } from "drizzle-orm";
import { type WorkState, workItems } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";

export type HostWorkView = {
  id: string;
  op: string;
  resourceKind: string;
  resourceId: string;
  state: WorkState;
  outcome: string | null;
  createdAt: number;
  finishedAt: number | null;
};

/** The newest work items of a host, for people allowed to view the host (404 for others). */
export async function recentHostWork(
  sc: ServiceContext,
  hostId: string,
  limit = 20,
): Promise<HostWorkView[]> {
  await authorizeActor(sc, { type: "host", id: hostId }, "view");
  return sc.deps.db
    .select({
      id: workItems.id,
      op: workItems.op,
      resourceKind: workItems.resourceKind,
      resourceId: workItems.resourceId,
      state: workItems.state,
      outcome: workItems.outcome,
      createdAt: workItems.createdAt,
      finishedAt: workItems.finishedAt,
    })
    .from(workItems)
    .where(eq(workItems.hostId, hostId))
    .orderBy(desc(workItems.seq))
    .limit(limit);
}
