import type { Deps } from "../../deps";
import type { ResultRequest } from "../../protocol/agent-api";
import type { Statement } from "../context";
import { vmProgressStatements } from "../vms/apply-progress";
import { vmResultStatements } from "../vms/apply-result";
import type { WorkItemRow } from "./load-item";

/**
 * What a finished work item changes in the resource it was for (a VM's operation and observed
 * state), committed in the same batch as the item's own outcome so the two cannot disagree.
 */
const EFFECTS: Record<
  string,
  (deps: Deps, item: WorkItemRow, result: ResultRequest, ran: boolean) => Promise<Statement[]>
> = {
  vm: vmResultStatements,
};

/** `ran` is false for an item the host refused or dropped without running it. */
export function resultEffects(
  deps: Deps,
  item: WorkItemRow,
  result: ResultRequest,
  ran = true,
): Promise<Statement[]> {
  return EFFECTS[item.resourceKind]?.(deps, item, result, ran) ?? Promise.resolve([]);
}

/** What an item's progress lines change in its resource before the result (a VM's reason, steps). */
const PROGRESS: Record<
  string,
  (deps: Deps, item: WorkItemRow, messages: readonly string[]) => Promise<Statement[]>
> = {
  vm: vmProgressStatements,
};

export function progressEffects(
  deps: Deps,
  item: WorkItemRow,
  messages: readonly string[],
): Promise<Statement[]> {
  return PROGRESS[item.resourceKind]?.(deps, item, messages) ?? Promise.resolve([]);
}

/**
 * An item that the control plane ended without a result from its host (refused, superseded, past
 * its deadline, cancelled, its host revoked), as a result: `failed` unless said otherwise.
 */
export function refusedResult(
  item: WorkItemRow,
  code: string,
  message: string,
  outcome: "failed" | "cancelled" = "failed",
): ResultRequest {
  return {
    attempt: item.attempt,
    lease_epoch: item.leaseEpoch,
    outcome,
    error: { code, message, retryable: false },
  };
}
