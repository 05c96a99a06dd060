import { and, eq } from "drizzle-orm";
import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import type { AgentHost } from "../hosts/authenticate-agent";
import { loadHostItem, staleEpoch } from "./load-item";

export type AgentEvent = {
  kind: "progress" | "log";
  at: number;
  message: string;
  data?: Record<string, unknown> | undefined;
};

/** Stores a batch of progress and log lines; the first one moves `accepted` to `running`. */
export async function recordEvents(
  deps: Deps,
  host: AgentHost,
  itemId: string,
  input: { lease_epoch: number; events: AgentEvent[] },
): Promise<{ stored: number }> {
  const item = await loadHostItem(deps, host.id, itemId);
  if (item.leaseEpoch !== input.lease_epoch) throw staleEpoch(item, input.lease_epoch);
  const now = deps.clock.now();
  const rows = input.events.map((e) => ({
    itemId: item.id,
    hostId: host.id,
    at: now,
    kind: e.kind,
    leaseEpoch: item.leaseEpoch,
    detail: { agentAt: e.at, message: e.message, ...(e.data ? { data: e.data } : {}) },
  }));
  await deps.db.batch([
    deps.db.insert(workEvents).values(rows),
    deps.db
      .update(workItems)
      .set({ state: "running", updatedAt: now })
      .where(and(eq(workItems.id, item.id), eq(workItems.state, "accepted"))),
  ]);
  return { stored: rows.length };
}
