import { and, eq } from "drizzle-orm";
import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ServiceError } from "../errors";
import { ring } from "./enqueue";
import { TERMINAL } from "./load-item";

/**
 * Cancels an item: a queued one at once; a leased or running one is flagged, the agent learns it
 * from its next renew (`cancel: true`) and reports `cancelled` at a safe point.
 */
export async function cancelWork(deps: Deps, itemId: string): Promise<{ state: string }> {
  const item = await deps.db.query.workItems.findFirst({ where: eq(workItems.id, itemId) });
  if (!item) throw new ServiceError("NOT_FOUND", "No such work item.");
  if (TERMINAL.has(item.state)) return { state: item.state };
  const now = deps.clock.now();
  const queued = item.state === "queued";
  await deps.db.batch([
    deps.db
      .update(workItems)
      .set(
        queued
          ? { state: "cancelled", cancelRequestedAt: now, finishedAt: now, updatedAt: now }
          : { cancelRequestedAt: now, updatedAt: now },
      )
      .where(and(eq(workItems.id, item.id), eq(workItems.state, item.state))),
    deps.db.insert(workEvents).values({
      itemId: item.id,
      hostId: item.hostId,
      at: now,
      kind: "cancel_requested",
      detail: {},
    }),
  ]);
  if (!queued) await ring(deps, item.hostId, item.seq);
  return { state: queued ? "cancelled" : item.state };
}
