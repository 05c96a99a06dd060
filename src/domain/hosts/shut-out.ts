import { and, asc, eq, inArray } from "drizzle-orm";
import { ACTIVE_WORK_STATES, hosts, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { commit, type Statement } from "../context";
import { refusedResult, resultEffects } from "../work/effects";
import { mayHaveRun } from "../work/load-item";
import { abortUnlessChanged, isStaleWrite } from "../write-guard";

/** Work that has not ended. */
const OPEN = ["queued", ...ACTIVE_WORK_STATES] as const;

/**
 * Items ended per commit. Each costs up to two reads (its VM and operation), and on Workers every
 * query is a subrequest (50 per request on the free plan), so a revoke stays within that.
 */
export const SHUT_OUT_PAGE = 10;
/** Pages a decision ends after its own commit; the periodic jobs end whatever is left. */
const PAGES_AFTER_DECISION = 2;
/** Pages of each host the periodic jobs end per run: the same bound as a decision's request. */
const PAGES_PER_RUN = PAGES_AFTER_DECISION + 1;

export type ShutOutReason = "revoked" | "rejected";

/**
 * One page of a host that may no longer work: its oldest open items end `cancelled`, and what
 * each was for follows (a VM operation fails with `host_revoked` / `host_rejected`, the VM as its
 * host last reported it). Each item is ended as it was read: if its host finished it meanwhile,
 * the batch fails `abortUnlessChanged` and is made again on what the host left.
 */
export async function shutOutPage(
  deps: Deps,
  hostId: string,
  now: number,
  why: ShutOutReason,
): Promise<{ statements: Statement[]; items: number }> {
  const { db } = deps;
  const open = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.hostId, hostId), inArray(workItems.state, [...OPEN])))
    .orderBy(asc(workItems.seq))
    .limit(SHUT_OUT_PAGE);
  const statements: Statement[] = [];
  for (const item of open) {
    const ran = mayHaveRun(item);
    statements.push(
      db
        .update(workItems)
        .set({
          state: "cancelled",
          outcome: "cancelled",
          finishedAt: now,
          updatedAt: now,
          leaseExpiresAt: null,
        })
        .where(and(eq(workItems.id, item.id), eq(workItems.state, item.state))),
      abortUnlessChanged(db),
      ...(await resultEffects(
        deps,
        item,
        refusedResult(item, `host_${why}`, `The host was ${why} before it finished this.`),
        ran,
      )),
    );
  }
  return { statements, items: open.length };
}

/**
 * After the decision's commit (which ended the first page): the rest, a page per commit, up to
 * `maxPages`. Work queued between the decision's read and its commit is among it: nothing can be
 * queued for such a host any more (enqueueWork checks the host's state in its INSERT). Returns
 * whether the host has no open work left. Best effort: what is left, or fails here, the periodic
 * jobs end (`endStrandedWork`).
 */
export async function shutOutRest(
  deps: Deps,
  hostId: string,
  now: number,
  why: ShutOutReason,
  maxPages = PAGES_AFTER_DECISION,
): Promise<boolean> {
  try {
    for (let page = 0; page < maxPages; page++) {
      const ended = await commitPage(deps, hostId, now, why);
      if (ended === undefined) return false;
      if (ended < SHUT_OUT_PAGE) return true;
    }
  } catch (error) {
    deps.log.warn("host shut-out: left for the periodic jobs", { hostId, error: String(error) });
  }
  return false;
}

/** One page, read again if an item changed under it; undefined if items kept changing. */
async function commitPage(
  deps: Deps,
  hostId: string,
  now: number,
  why: ShutOutReason,
): Promise<number | undefined> {
  for (let tries = 0; tries < 3; tries++) {
    try {
      const page = await shutOutPage(deps, hostId, now, why);
      await commit(deps.db, page.statements);
      return page.items;
    } catch (err) {
      if (!isStaleWrite(err)) throw err;
    }
  }
  deps.log.warn("host shut-out: open items kept changing; the periodic jobs end them", { hostId });
  return undefined;
}

/**
 * Periodic: ends up to `PAGES_PER_RUN` pages of open work of each rejected or revoked host that
 * still has some (a decision that stopped after its commit, or a host with more open items than
 * a decision ends itself). Returns how many hosts had some.
 */
export async function endStrandedWork(deps: Deps): Promise<number> {
  const stranded = await deps.db
    .selectDistinct({ id: hosts.id, state: hosts.state })
    .from(workItems)
    .innerJoin(hosts, eq(hosts.id, workItems.hostId))
    .where(and(inArray(workItems.state, [...OPEN]), inArray(hosts.state, ["rejected", "revoked"])))
    .limit(SHUT_OUT_PAGE);
  const now = deps.clock.now();
  for (const host of stranded) {
    const why = host.state === "rejected" ? "rejected" : "revoked";
    await shutOutRest(deps, host.id, now, why, PAGES_PER_RUN);
  }
  return stranded.length;
}
