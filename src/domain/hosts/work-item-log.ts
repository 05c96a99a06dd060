import { asc, eq } from "drizzle-orm";
import { type WorkEventKind, workEvents } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { cancelPending } from "../work/load-item";
import { type HostWorkView, hostWorkItemRow } from "./recent-work";

/** How many events one item's log shows (an item normally has a handful). */
export const WORK_LOG_LIMIT = 500;

export type WorkLogEvent = {
  at: number;
  kind: WorkEventKind;
  leaseEpoch: number | null;
  detail: Record<string, unknown>;
};

export type HostWorkItemLog = HostWorkView & {
  seq: number;
  attempt: number;
  leaseEpoch: number;
  rejectReason: string | null;
  startBy: number;
  timeoutS: number;
  late: boolean;
  createdBy: string;
  updatedAt: number;
  /** What the host reported: outcome, error or output, observed state. */
  result: Record<string, unknown> | null;
  events: WorkLogEvent[];
};

/**
 * One work item of a host with everything that happened to it, oldest first (claims, acks,
 * renewals, the agent's progress lines, the result): the host's task log, for people allowed to
 * view the host. The item's params are left out: a VM's user data may hold secrets.
 */
export async function hostWorkItemLog(
  sc: ServiceContext,
  hostId: string,
  itemId: string,
): Promise<HostWorkItemLog> {
  await authorizeActor(sc, { type: "host", id: hostId }, "view");
  const item = await hostWorkItemRow(sc.deps, hostId, itemId);
  const events = await sc.deps.db
    .select({
      at: workEvents.at,
      kind: workEvents.kind,
      leaseEpoch: workEvents.leaseEpoch,
      detail: workEvents.detail,
    })
    .from(workEvents)
    .where(eq(workEvents.itemId, itemId))
    .orderBy(asc(workEvents.id))
    .limit(WORK_LOG_LIMIT);
  return {
    id: item.id,
    op: item.op,
    resourceKind: item.resourceKind,
    resourceId: item.resourceId,
    state: item.state,
    outcome: item.outcome,
    cancelRequested: cancelPending(item),
    createdAt: item.createdAt,
    finishedAt: item.finishedAt,
    seq: item.seq,
    attempt: item.attempt,
    leaseEpoch: item.leaseEpoch,
    rejectReason: item.rejectReason,
    startBy: item.startBy,
    timeoutS: item.timeoutS,
    late: item.late,
    createdBy: item.createdBy,
    updatedAt: item.updatedAt,
    result: item.result,
    events,
  };
}
