import { and, eq, inArray } from "drizzle-orm";
import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { commit, type Statement } from "../context";
import type { AgentHost } from "../hosts/authenticate-agent";
import { progressEffects } from "./effects";
import { loadHostItem, notLeased, staleEpoch } from "./load-item";

export type AgentEvent = {
  kind: "progress" | "log";
  at: number;
  message: string;
  data?: Record<string, unknown> | undefined;
};

/**
 * Stores a batch of progress and log lines; the first one moves `accepted` (or `leased`) to
 * `running`, and the progress lines show on what the item is for (a VM's reason and operation
 * steps).
 */
export async function recordEvents(
  deps: Deps,
  host: AgentHost,
  itemId: string,
  input: { lease_epoch: number; events: AgentEvent[] },
  /** Statements that commit with the lines (the Idempotency-Key's stored answer). */
  alongside: Statement[] = [],
): Promise<{ stored: number }> {
  const item = await loadHostItem(deps, host.id, itemId);
  if (item.leaseEpoch !== input.lease_epoch) throw staleEpoch(item, input.lease_epoch);
  if (item.state === "queued") throw notLeased(item);
  const now = deps.clock.now();
  const rows = input.events.map((e) => ({
    itemId: item.id,
    hostId: host.id,
    at: now,
    kind: e.kind,
    leaseEpoch: item.leaseEpoch,
    detail: { agentAt: e.at, message: e.message, ...(e.data ? { data: e.data } : {}) },
  }));
  const progress = input.events.filter((e) => e.kind === "progress").map((e) => e.message);
  await commit(deps.db, [
    deps.db.insert(workEvents).values(rows),
    deps.db
      .update(workItems)
      .set({ state: "running", updatedAt: now })
      // From `leased` too: lines mean it runs, also when its ack never arrived (see renew).
      .where(and(eq(workItems.id, item.id), inArray(workItems.state, ["leased", "accepted"]))),
    ...(await progressEffects(deps, item, progress)),
    ...alongside,
  ]);
  return { stored: rows.length };
}
