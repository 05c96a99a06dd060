import { and, eq, inArray, isNotNull, isNull, lte, notInArray, or } from "drizzle-orm";
import {
  ACTIVE_WORK_STATES,
  hosts,
  TERMINAL_WORK_STATES,
  type WorkState,
  workEvents,
  workItems,
} from "../../db/schema";
import type { Deps } from "../../deps";
import { type AuditInput, auditStatement } from "../audit/record";
import { commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import { abortUnlessChanged, isStaleWrite } from "../write-guard";
import { refusedResult, resultEffects } from "./effects";
import { cancelPending, mayHaveRun, TERMINAL, type WorkItemRow } from "./load-item";

export type CancelledWork = {
  id: string;
  state: WorkState;
  /** True while the host has yet to stop it (it holds or runs the item). */
  cancelRequested: boolean;
};

/**
 * Cancels a work item; the caller has checked the actor may. The request is recorded first, which
 * takes the item out of every later claim; then:
 * - an item no host holds (queued, or its lease lapsed) ends `cancelled` at once, and what it was
 *   for follows (a VM operation ends `cancelled`) in the same batch;
 * - an item a host holds is flagged: the host is rung, learns it from its renew (`cancel: true`)
 *   and reports `cancelled` at its next safe point (or its result, if it finished first).
 * Cancelling a cancelled item again is a no-op; an item that already ended is a 409.
 */
export async function cancelWork(
  sc: ServiceContext,
  itemId: string,
  options: {
    /** Only this host's item (another host's is not found). */
    hostId?: string;
    /** How the request is audited; by default `work_item.cancel` on the item. */
    audit?: Pick<AuditInput, "action" | "target">;
  } = {},
): Promise<CancelledWork> {
  const { db } = sc.deps;
  const { audit } = options;
  const found = await db.query.workItems.findFirst({
    where: and(
      eq(workItems.id, itemId),
      options.hostId === undefined ? undefined : eq(workItems.hostId, options.hostId),
    ),
  });
  if (!found) {
    const where = options.hostId === undefined ? "" : `Host ${options.hostId} has`;
    throw new ServiceError("NOT_FOUND", `${where || "There is"} no work item ${itemId}.`);
  }
  if (found.state === "cancelled") return view(found);
  if (TERMINAL.has(found.state)) throw finished(found);
  const now = sc.deps.clock.now();
  const requested = await db
    .update(workItems)
    .set({ cancelRequestedAt: now, updatedAt: now })
    .where(
      and(
        eq(workItems.id, itemId),
        isNull(workItems.cancelRequestedAt),
        notInArray(workItems.state, [...TERMINAL_WORK_STATES]),
      ),
    )
    .returning();
  const [item] = requested;
  if (!item) {
    // Asked before, or it ended meanwhile: say where it stands.
    const current = await db.query.workItems.findFirst({ where: eq(workItems.id, itemId) });
    if (!current) throw new ServiceError("NOT_FOUND", `No work item ${itemId}.`);
    if (TERMINAL.has(current.state) && current.state !== "cancelled") throw finished(current);
    // Asked before, and the host that held it let its lease lapse: it ends now.
    if (!TERMINAL.has(current.state) && !heldAt(current, now)) return endNow(sc.deps, current, now);
    return view(current);
  }
  const [host] = await db
    .select({ orgId: hosts.orgId })
    .from(hosts)
    .where(eq(hosts.id, item.hostId))
    .limit(1);
  const held = heldAt(item, now);
  const statements: Statement[] = [
    db.insert(workEvents).values({
      itemId: item.id,
      hostId: item.hostId,
      at: now,
      kind: "cancel_requested",
      detail: {},
    }),
    auditStatement(sc, {
      action: audit?.action ?? "work_item.cancel",
      target: audit?.target ?? { type: "work_item", id: item.id },
      orgId: host?.orgId ?? null,
      detail: { workItemId: item.id, hostId: item.hostId, op: item.op, state: item.state, held },
    }),
  ];
  if (held) {
    await commit(db, statements);
    await tellHost(sc.deps, item.hostId, item.id);
    return view(item);
  }
  // The request first: if ending it loses a race, or the control plane stops in between, the
  // periodic jobs end it (settleLapsedCancellations).
  await commit(db, statements);
  return endNow(sc.deps, item, now);
}

/** Ends an item no host holds; if it changed meanwhile, says where it stands now. */
async function endNow(deps: Deps, item: WorkItemRow, now: number): Promise<CancelledWork> {
  try {
    await commit(deps.db, await endStatements(deps, item, now));
    return { id: item.id, state: "cancelled", cancelRequested: false };
  } catch (err) {
    if (!isStaleWrite(err)) throw err;
    // Its host's result came in, or its host renewed the lapsed lease (it holds the item again).
    const current = await deps.db.query.workItems.findFirst({ where: eq(workItems.id, item.id) });
    if (!current) throw new ServiceError("NOT_FOUND", `No work item ${item.id}.`);
    if (heldAt(current, now)) await tellHost(deps, current.hostId, current.id);
    return view(current);
  }
}

/**
 * Ends an item no claim can take any more (cancellation asked, and no host holds it) as
 * `cancelled`, with what it was for. An item whose lease lapsed after it was accepted may have
 * started; its resource is then treated as having run.
 */
async function endStatements(deps: Deps, item: WorkItemRow, now: number): Promise<Statement[]> {
  const ran = mayHaveRun(item);
  return [
    deps.db
      .update(workItems)
      .set({ state: "cancelled", outcome: "cancelled", leaseExpiresAt: null, finishedAt: now })
      .where(and(eq(workItems.id, item.id), eq(workItems.state, item.state))),
    // Its effects only with it: not again after a result or another settler ended it first.
    abortUnlessChanged(deps.db),
    ...(await resultEffects(
      deps,
      item,
      refusedResult(
        item,
        "cancelled",
        ran
          ? "Cancelled after its host stopped answering for it."
          : "Cancelled before a host ran it.",
        "cancelled",
      ),
      ran,
    )),
  ];
}

/** How long a queued item's cancellation may stay half done before the periodic jobs end it. */
const UNSETTLED_QUEUED_MS = 60_000;

/**
 * Cancellations that did not end: their host held the item, then its lease lapsed (the host went
 * away, or was cut off), and no claim offers a cancelled item again; or the control plane stopped
 * between recording a queued item's cancellation and ending it (neither a claim nor its deadline
 * takes such an item any more). They end here, in the periodic jobs; a host that comes back is
 * told `item_cancelled` on its renew. Returns how many ended.
 */
export async function settleLapsedCancellations(deps: Deps, limit = 100): Promise<number> {
  const now = deps.clock.now();
  const lapsed = await deps.db
    .select()
    .from(workItems)
    .where(
      and(
        isNotNull(workItems.cancelRequestedAt),
        inArray(workItems.state, ["queued", ...ACTIVE_WORK_STATES]),
        or(
          and(
            eq(workItems.state, "queued"),
            lte(workItems.cancelRequestedAt, now - UNSETTLED_QUEUED_MS),
          ),
          lte(workItems.leaseExpiresAt, now),
        ),
      ),
    )
    .limit(limit);
  let settled = 0;
  for (const item of lapsed) {
    try {
      await settle(deps, item, now);
      settled++;
    } catch (err) {
      // Ended or renewed since it was read (a result, a cancel, its host back): nothing to do.
      if (!isStaleWrite(err)) throw err;
    }
  }
  return settled;
}

async function settle(deps: Deps, item: WorkItemRow, now: number): Promise<void> {
  await commit(deps.db, [
    ...(await endStatements(deps, item, now)),
    deps.db.insert(workEvents).values({
      itemId: item.id,
      hostId: item.hostId,
      at: now,
      kind: "expired",
      detail: {
        reason:
          item.state === "queued"
            ? "the cancellation was not finished; it ends now"
            : "the lease lapsed before the host confirmed the cancellation",
      },
    }),
  ]);
}

/** A host holds the item: leased to it (or running there) under a lease that has not lapsed. */
function heldAt(item: WorkItemRow, now: number): boolean {
  return item.state !== "queued" && item.leaseExpiresAt !== null && item.leaseExpiresAt > now;
}

function view(item: WorkItemRow): CancelledWork {
  return {
    id: item.id,
    state: item.state,
    cancelRequested: cancelPending(item),
  };
}

function finished(item: WorkItemRow): ServiceError {
  return new ServiceError(
    "CONFLICT",
    `Work item ${item.id} already ended (${item.state}).`,
    [],
    "already_finished",
  );
}

/** The host's socket hears of it now; its next renewal (≤ a third of a lease) would anyway. */
async function tellHost(deps: Deps, hostId: string, itemId: string): Promise<void> {
  try {
    await deps.wakeup?.cancel?.(hostId, itemId);
  } catch (error) {
    deps.log.warn("wake-up cancel failed", { hostId, itemId, error: String(error) });
  }
}
