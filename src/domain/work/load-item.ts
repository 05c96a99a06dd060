import { and, eq } from "drizzle-orm";
import { TERMINAL_WORK_STATES, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";

export type WorkItemRow = typeof workItems.$inferSelect;

export const TERMINAL: ReadonlySet<string> = new Set<string>(TERMINAL_WORK_STATES);

/** Cancellation was asked for and the item has not ended: its host has yet to stop it. */
export function cancelPending(item: Pick<WorkItemRow, "cancelRequestedAt" | "state">): boolean {
  return item.cancelRequestedAt !== null && !TERMINAL.has(item.state);
}

/** The host acked it, so it may have started (the journal holds it before the ack). */
export function mayHaveRun(item: Pick<WorkItemRow, "state">): boolean {
  return item.state === "accepted" || item.state === "running";
}

/** The host's own item, or undefined: another host's item is not found either. */
export async function findHostItem(
  deps: Deps,
  hostId: string,
  itemId: string,
): Promise<WorkItemRow | undefined> {
  return deps.db.query.workItems.findFirst({
    where: and(eq(workItems.id, itemId), eq(workItems.hostId, hostId)),
  });
}

/**
 * The host's own item for the agent API; another host's item is reported as not found. (The
 * operator API words its 404 for people: `hostWorkItemRow`, domain/hosts/recent-work.ts.)
 */
export async function loadHostItem(
  deps: Deps,
  hostId: string,
  itemId: string,
): Promise<WorkItemRow> {
  const item = await findHostItem(deps, hostId, itemId);
  if (!item) throw new ProblemError({ code: "not_found", detail: "No such work item." });
  return item;
}

export function staleEpoch(item: WorkItemRow, epoch: number): ProblemError {
  return new ProblemError({
    code: "stale_epoch",
    detail: `Lease epoch ${epoch} is not current (${item.leaseEpoch}); drop this handle.`,
    extensions: { lease_epoch: item.leaseEpoch },
  });
}

/** An item no claim has handed out (still queued): no host holds a lease to report on. */
export function notLeased(item: WorkItemRow): ProblemError {
  return new ProblemError({
    code: "conflict",
    detail: `Work item ${item.id} is queued: it was never handed to this host under a lease.`,
  });
}

/**
 * The row as `item` was read: same state, same lease. The WHERE of a write that must not overwrite
 * a change made since (followed by `abortUnlessChanged`, src/domain/write-guard.ts).
 */
export function asRead(item: WorkItemRow) {
  return and(
    eq(workItems.id, item.id),
    eq(workItems.leaseEpoch, item.leaseEpoch),
    eq(workItems.state, item.state),
  );
}
