import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import { HELD_STEP } from "../../protocol/agent-api";
import type { AgentHost } from "../hosts/authenticate-agent";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { asRead, loadHostItem, staleEpoch, TERMINAL } from "./load-item";

/**
 * Extends the lease (design §2.6). A lapsed (stalled) lease whose epoch is still current is
 * re-leased: the partition healed. A newer epoch → 409; a cancelled item → 410; a cancellation
 * request is announced with `cancel: true`.
 */
export function renewLease(...args: Parameters<typeof renewOnce>): ReturnType<typeof renewOnce> {
  return retryStaleOnce(() => renewOnce(...args));
}

async function renewOnce(
  deps: Deps,
  host: AgentHost,
  itemId: string,
  input: { lease_epoch: number; step?: string | undefined },
): Promise<{ lease_expires_at: number; cancel: boolean }> {
  const item = await loadHostItem(deps, host.id, itemId);
  if (item.state === "cancelled") {
    throw new ProblemError({ code: "item_cancelled", detail: "This work item was cancelled." });
  }
  if (item.leaseEpoch !== input.lease_epoch) throw staleEpoch(item, input.lease_epoch);
  if (TERMINAL.has(item.state) || item.state === "queued") {
    throw new ProblemError({ code: "conflict", detail: `The item is ${item.state}.` });
  }
  const now = deps.clock.now();
  const leaseExpiresAt = now + deps.config.agent.leaseMs;
  // A step means the item runs, except `blocked`: a held item's renewal that raced its ack. Also
  // from `leased`: an agent that journaled the item but died before its ack resumes it so.
  const started = input.step !== undefined && input.step !== HELD_STEP;
  const state =
    started && (item.state === "accepted" || item.state === "leased") ? "running" : item.state;
  await deps.db.batch([
    deps.db
      .update(workItems)
      .set({ leaseExpiresAt, state, updatedAt: now })
      // As read: a result, a cancellation or another renewal since then wins, and this one is
      // answered again from what they left.
      .where(asRead(item)),
    abortUnlessChanged(deps.db),
    deps.db.insert(workEvents).values({
      itemId: item.id,
      hostId: host.id,
      at: now,
      kind: "renewed",
      leaseEpoch: item.leaseEpoch,
      detail: input.step === undefined ? {} : { step: input.step },
    }),
  ]);
  return { lease_expires_at: leaseExpiresAt, cancel: item.cancelRequestedAt !== null };
}
