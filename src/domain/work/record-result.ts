import { eq } from "drizzle-orm";
import { workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import type { ResultRequest } from "../../protocol/agent-api";
import type { Statement } from "../context";
import type { AgentHost } from "../hosts/authenticate-agent";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { resultEffects } from "./effects";
import { asRead, loadHostItem, notLeased, staleEpoch, TERMINAL } from "./load-item";

/**
 * The final outcome of an item (design §2.6). A result for an item already cancelled is kept with
 * `late: true` for reconciliation; one from an older lease epoch is refused (409), also once the
 * item holds a result of a newer one. Duplicates are answered by the Idempotency-Key layer before
 * this runs.
 */
export function recordResult(
  ...args: Parameters<typeof recordOnce>
): ReturnType<typeof recordOnce> {
  return retryStaleOnce(() => recordOnce(...args));
}

type ResultAnswer = { id: string; state: string; late: boolean };

async function recordOnce(
  deps: Deps,
  host: AgentHost,
  itemId: string,
  input: ResultRequest,
  /** Statements that commit with the result (the Idempotency-Key's stored answer), given it. */
  alongside: (answer: ResultAnswer) => Statement[] = () => [],
): Promise<ResultAnswer> {
  const item = await loadHostItem(deps, host.id, itemId);
  const now = deps.clock.now();
  const result = {
    attempt: input.attempt,
    lease_epoch: input.lease_epoch,
    outcome: input.outcome,
    ...(input.observed ? { observed: input.observed } : {}),
    ...(input.output ? { output: input.output } : {}),
    ...(input.error ? { error: input.error } : {}),
  };
  const event = deps.db.insert(workEvents).values({
    itemId: item.id,
    hostId: host.id,
    at: now,
    kind: "result",
    leaseEpoch: input.lease_epoch,
    detail: result,
  });
  // An older handle's copy of a result its agent re-sent under the newer lease (`already_done`):
  // the item has its answer, and a second record would count the work twice.
  if (TERMINAL.has(item.state) && item.result !== null && input.lease_epoch < item.leaseEpoch) {
    throw staleEpoch(item, input.lease_epoch);
  }
  if (TERMINAL.has(item.state)) {
    // Cancelled or already reported: keep what the agent says, change nothing.
    const answer = { id: item.id, state: item.state, late: true };
    await deps.db.batch([
      deps.db
        .update(workItems)
        .set({ late: true, updatedAt: now, ...(item.result === null ? { result } : {}) })
        .where(eq(workItems.id, item.id)),
      event,
      ...alongside(answer),
    ]);
    return answer;
  }
  if (item.leaseEpoch !== input.lease_epoch) throw staleEpoch(item, input.lease_epoch);
  if (item.state === "queued") throw notLeased(item);
  // A cancelled item did not do what was asked (it stopped at a safe point, or never began): its
  // resource follows what the host observed, else its last report, as for one that never ran.
  const effects = await resultEffects(deps, item, input, input.outcome !== "cancelled");
  const answer = { id: item.id, state: input.outcome, late: false };
  await deps.db.batch([
    deps.db
      .update(workItems)
      .set({
        state: input.outcome,
        outcome: input.outcome,
        result,
        leaseExpiresAt: null,
        finishedAt: now,
        updatedAt: now,
      })
      // As read: if a cancellation or a host shut-out ended it first, the retry records this
      // result as late and its effects are not applied twice.
      .where(asRead(item)),
    abortUnlessChanged(deps.db),
    event,
    ...effects,
    ...alongside(answer),
  ]);
  return answer;
}
