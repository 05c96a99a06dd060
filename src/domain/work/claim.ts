import { and, asc, eq, exists, gt, inArray, isNull, lt, lte, max, or, sql } from "drizzle-orm";
import { ACTIVE_WORK_STATES, hosts, workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import type { ClaimResponse } from "../../protocol/agent-api";
import { ACCEPT_WINDOW_S } from "../../protocol/limits";
import type { WorkItemClaims } from "../../protocol/work-item";
import type { Statement } from "../context";
import type { AgentHost } from "../hosts/authenticate-agent";
import type { WorkItemRow } from "./load-item";

/**
 * Leases up to `maxItems` of the host's items with `seq > cursor` (design §2.6): queued items, and
 * items whose lease lapsed (stalled), which go back to the same host with `lease_epoch` + 1. One
 * UPDATE … RETURNING decides every lease, so two concurrent claims can never hold the same item.
 * Each item is signed at claim time (fresh `iat`, `exp` = `iat` + 300 s, new `jti`).
 */
export async function claimWork(
  deps: Deps,
  host: AgentHost,
  input: { cursor: number; maxItems: number },
): Promise<ClaimResponse> {
  const { signer } = deps;
  if (!signer) {
    throw new ProblemError({
      code: "not_ready",
      detail: "No work-item signing key is configured.",
    });
  }
  const { db } = deps;
  const now = deps.clock.now();

  // Queued items past their deadline are never started (design §2.6). One being cancelled is
  // the cancellation's to end (src/domain/work/cancel.ts).
  const expire = db
    .update(workItems)
    .set({ state: "expired", finishedAt: now, updatedAt: now, rejectReason: "deadline" })
    .where(
      and(
        eq(workItems.hostId, host.id),
        eq(workItems.state, "queued"),
        lt(workItems.startBy, now),
        isNull(workItems.cancelRequestedAt),
      ),
    );

  const claimable = and(
    eq(workItems.hostId, host.id),
    gt(workItems.seq, input.cursor),
    // Also what lets SQLite use the open-items index (work_items_open_idx), not the whole history.
    inArray(workItems.state, OPEN_STATES),
    isNull(workItems.cancelRequestedAt),
    or(
      eq(workItems.state, "queued"),
      and(
        inArray(workItems.state, ["leased", "accepted", "running"]),
        lte(workItems.leaseExpiresAt, now),
      ),
    ),
  );
  const candidates = db
    .select({ id: workItems.id })
    .from(workItems)
    .where(claimable)
    .orderBy(asc(workItems.seq))
    .limit(input.maxItems);
  const leaseExpiresAt = now + deps.config.agent.ackWindowMs;
  // One commit for both; the jti is unique per attempt and lease (the values after this update).
  const [, claimed] = await db.batch([
    expire,
    db
      .update(workItems)
      .set({
        state: "leased",
        leaseEpoch: sql`${workItems.leaseEpoch} + 1`,
        attempt: sql`${workItems.attempt} + 1`,
        lastJti: sql`${workItems.id} || ':a' || (${workItems.attempt} + 1) || ':e' || (${workItems.leaseEpoch} + 1)`,
        leaseHolder: host.id,
        leaseExpiresAt,
        updatedAt: now,
      })
      // Only while the host may work: a revoke that committed after this request was
      // authenticated hands out nothing more.
      .where(and(inArray(workItems.id, candidates), claimable, hostApproved(host.id)))
      .returning(),
  ]);
  claimed.sort((a, b) => a.seq - b.seq);

  const trustVersion = signer.trustDocument().version;
  const items: ClaimResponse["items"] = [];
  const events: Statement[] = [];
  for (const row of claimed) {
    const claims = claimsFor(deps, host, row, now);
    items.push({
      id: row.id,
      seq: row.seq,
      lease_epoch: row.leaseEpoch,
      token: await signer.sign(claims),
    });
    events.push(
      db.insert(workEvents).values({
        itemId: row.id,
        hostId: host.id,
        at: now,
        kind: "claimed",
        leaseEpoch: row.leaseEpoch,
        detail: { attempt: row.attempt, jti: claims.jti, kid: signer.keyId },
      }),
    );
  }
  const [first, ...rest] = events;
  if (first) await db.batch([first, ...rest]);
  const last = claimed.at(-1);
  return {
    items,
    cursor: last ? Math.max(last.seq, input.cursor) : input.cursor,
    trust_version: trustVersion,
    lease_expires_at: claimed.length > 0 ? leaseExpiresAt : null,
    server_time_ms: now,
  };
}

/** The states `work_items_open_idx` covers. */
const OPEN_STATES = ["queued", ...ACTIVE_WORK_STATES] as const;

function hostApproved(hostId: string) {
  return exists(
    sql`(SELECT 1 FROM ${hosts} WHERE ${hosts.id} = ${hostId} AND ${hosts.state} = 'approved')`,
  );
}

function claimedJti(row: WorkItemRow): string {
  if (row.lastJti === null) throw new Error(`claimed item ${row.id} has no jti`);
  return row.lastJti;
}

function claimsFor(deps: Deps, host: AgentHost, row: WorkItemRow, now: number): WorkItemClaims {
  const iat = Math.floor(now / 1000);
  return {
    iss: deps.config.agent.issuer,
    aud: host.id,
    sub: row.id,
    jti: claimedJti(row),
    iat,
    nbf: iat,
    exp: iat + ACCEPT_WINDOW_S,
    v: 1,
    ...(row.tenant === null ? {} : { tenant: row.tenant }),
    op: row.op,
    op_v: row.opV,
    resource: { kind: row.resourceKind, id: row.resourceId, uid: row.resourceUid },
    gen: row.gen,
    seq: row.seq,
    after: row.after,
    idem: row.idem,
    attempt: row.attempt,
    lease_epoch: row.leaseEpoch,
    start_by: Math.floor(row.startBy / 1000),
    timeout_s: row.timeoutS,
    params: row.params,
  };
}

/** True when the host has something claimable above `cursor` (for the long poll). */
export async function hasClaimable(deps: Deps, hostId: string, cursor: number): Promise<number> {
  const now = deps.clock.now();
  const rows = await deps.db
    .select({ seq: workItems.seq })
    .from(workItems)
    .where(
      and(
        eq(workItems.hostId, hostId),
        gt(workItems.seq, cursor),
        inArray(workItems.state, OPEN_STATES),
        isNull(workItems.cancelRequestedAt),
        or(
          eq(workItems.state, "queued"),
          and(
            inArray(workItems.state, ["leased", "accepted", "running"]),
            lte(workItems.leaseExpiresAt, now),
          ),
        ),
      ),
    )
    .orderBy(asc(workItems.seq))
    .limit(1);
  return rows[0]?.seq ?? 0;
}

/** The host's highest `seq` (0 without items): what a long poll with nothing to claim waits past. */
export async function latestSeq(deps: Deps, hostId: string): Promise<number> {
  const [row] = await deps.db
    .select({ seq: max(workItems.seq) })
    .from(workItems)
    .where(eq(workItems.hostId, hostId));
  return row?.seq ?? 0;
}
