import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import type { AckRequest } from "../../protocol/agent-api";
import { REJECTIONS, type RejectionReason } from "../../protocol/rejections";
import type { Statement } from "../context";
import type { AgentHost } from "../hosts/authenticate-agent";
import { hostAuditStatement } from "../hosts/host-audit";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { refusedResult, resultEffects } from "./effects";
import { asRead, loadHostItem, notLeased, staleEpoch, TERMINAL } from "./load-item";

function isReason(reason: string): reason is RejectionReason {
  return Object.hasOwn(REJECTIONS, reason);
}

/**
 * The agent verified and journaled the item (`accepted`), or refused it (`rejected` + reason).
 * The control plane classifies the reason itself (src/protocol/rejections.ts): security
 * rejections are terminal, audited and alerted; retryable ones go back to the queue and are
 * re-signed on the next claim; `superseded` and `deadline` are terminal outcomes.
 */
export function ackWork(...args: Parameters<typeof ackOnce>): ReturnType<typeof ackOnce> {
  return retryStaleOnce(() => ackOnce(...args));
}

async function ackOnce(
  deps: Deps,
  host: AgentHost,
  itemId: string,
  input: AckRequest,
  requestId: string,
): Promise<{ state: string; lease_expires_at: number | null }> {
  const { db } = deps;
  const item = await loadHostItem(deps, host.id, itemId);
  if (item.leaseEpoch !== input.lease_epoch) throw staleEpoch(item, input.lease_epoch);
  if (TERMINAL.has(item.state)) {
    return { state: item.state, lease_expires_at: null };
  }
  if (item.state === "queued") throw notLeased(item);
  const now = deps.clock.now();
  // As read: a cancellation, a shut-out or a lapsed lease's re-claim since then wins, and the
  // retry answers from what it left (the effects below are never applied twice).
  const guard = asRead(item);
  if (input.status === "accepted") {
    const leaseExpiresAt = now + deps.config.agent.leaseMs;
    const state = item.state === "leased" ? "accepted" : item.state;
    await db.batch([
      db.update(workItems).set({ state, leaseExpiresAt, updatedAt: now }).where(guard),
      abortUnlessChanged(db),
      db.insert(workEvents).values({
        itemId: item.id,
        hostId: host.id,
        at: now,
        kind: "accepted",
        leaseEpoch: item.leaseEpoch,
        detail: {},
      }),
    ]);
    return { state, lease_expires_at: leaseExpiresAt };
  }

  if (!isReason(input.reason)) {
    throw new ProblemError({
      code: "validation_failed",
      detail: "Unknown rejection reason.",
      errors: [{ in: "body", field: "reason", code: "invalid_value", message: "unknown reason" }],
    });
  }
  const reason = input.reason;
  const { retry, security } = REJECTIONS[reason];
  const event = (kind: "rejected" | "security"): Statement =>
    db.insert(workEvents).values({
      itemId: item.id,
      hostId: host.id,
      at: now,
      kind,
      leaseEpoch: item.leaseEpoch,
      detail: { reason },
    });

  if (security) {
    deps.log.warn("security: agent rejected a work item", {
      hostId: host.id,
      itemId: item.id,
      reason,
      alert: true,
    });
    await db.batch([
      db
        .update(workItems)
        .set({
          state: "rejected",
          rejectReason: reason,
          outcome: "rejected",
          leaseExpiresAt: null,
          finishedAt: now,
          updatedAt: now,
        })
        .where(guard),
      abortUnlessChanged(db),
      event("security"),
      hostAuditStatement(deps, {
        hostId: host.id,
        orgId: host.orgId,
        requestId,
        action: "work_item.rejected_security",
        target: { type: "work_item", id: item.id },
        outcome: "denied",
        detail: { reason, jti: item.lastJti, op: item.op },
      }),
      ...(await resultEffects(
        deps,
        item,
        refusedResult(item, reason, `The host refused the signed work item (${reason}).`),
        false,
      )),
    ]);
    return { state: "rejected", lease_expires_at: null };
  }
  if (retry) {
    // Back to the queue: the next claim re-signs it (same idem, new jti and epoch).
    await db.batch([
      db
        .update(workItems)
        .set({ state: "queued", rejectReason: reason, leaseExpiresAt: null, updatedAt: now })
        .where(guard),
      abortUnlessChanged(db),
      event("rejected"),
    ]);
    return { state: "queued", lease_expires_at: null };
  }
  if (reason === "superseded" || reason === "deadline") {
    const state = reason === "superseded" ? "superseded" : "expired";
    await db.batch([
      db
        .update(workItems)
        .set({
          state,
          outcome: state,
          rejectReason: reason,
          leaseExpiresAt: null,
          finishedAt: now,
          updatedAt: now,
        })
        .where(guard),
      abortUnlessChanged(db),
      event("rejected"),
      ...(await resultEffects(
        deps,
        item,
        refusedResult(
          item,
          reason,
          reason === "superseded"
            ? "A newer request for this VM replaced this one."
            : "The host received the request after its deadline.",
        ),
        false,
      )),
    ]);
    return { state, lease_expires_at: null };
  }
  // replay / already_done / out_of_order / stale_epoch: a duplicate, not a decision. The agent
  // re-sends its stored result, or the lease lapses and the item is offered again.
  await db.insert(workEvents).values({
    itemId: item.id,
    hostId: host.id,
    at: now,
    kind: "rejected",
    leaseEpoch: item.leaseEpoch,
    detail: { reason, duplicate: true },
  });
  return { state: item.state, lease_expires_at: item.leaseExpiresAt };
}
