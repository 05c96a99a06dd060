import { and, eq, sql } from "drizzle-orm";
import { hosts, workEvents, workItems } from "../../db/schema";
import type { Deps } from "../../deps";
import { ServiceError } from "../errors";

export type EnqueueInput = {
  hostId: string;
  op: string;
  opV?: number;
  resource: { kind: string; id: string; uid: string };
  gen?: number;
  after?: string[];
  /** Stable across attempts; defaults to `<item id>`. */
  idem?: string;
  params?: Record<string, unknown>;
  tenant?: string;
  /** Deadline to start; default 15 min from now (design §2.6). */
  startByMs?: number;
  timeoutS?: number;
  createdBy: string;
};

export const DEFAULT_START_WINDOW_MS = 15 * 60_000;

/**
 * Commits a work item for one host with the next per-host `seq` (one INSERT … SELECT, retried on
 * the rare unique conflict), then rings the host's doorbell (best effort).
 */
export async function enqueueWork(
  deps: Deps,
  input: EnqueueInput,
): Promise<{ id: string; seq: number }> {
  const host = await deps.db.query.hosts.findFirst({ where: eq(hosts.id, input.hostId) });
  if (!host) throw new ServiceError("NOT_FOUND", "No such host.");
  if (host.state !== "approved") {
    throw new ServiceError("CONFLICT", `Work cannot be queued for a ${host.state} host.`);
  }
  const now = deps.clock.now();
  const id = deps.ids.next("workItem");
  const values = {
    id,
    hostId: input.hostId,
    tenant: input.tenant ?? null,
    op: input.op,
    opV: input.opV ?? 1,
    resourceKind: input.resource.kind,
    resourceId: input.resource.id,
    resourceUid: input.resource.uid,
    gen: input.gen ?? 1,
    after: JSON.stringify(input.after ?? []),
    idem: input.idem ?? id,
    params: JSON.stringify(input.params ?? {}),
    startBy: input.startByMs ?? now + DEFAULT_START_WINDOW_MS,
    timeoutS: input.timeoutS ?? 600,
    createdBy: input.createdBy,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.db.batch([
        deps.db.run(sql`
          INSERT INTO work_items (id, host_id, seq, tenant, op, op_v, resource_kind, resource_id,
            resource_uid, gen, after, idem, params, state, attempt, lease_epoch, start_by,
            timeout_s, late, created_by, created_at, updated_at)
          SELECT ${values.id}, ${values.hostId}, COALESCE(MAX(seq), 0) + 1, ${values.tenant},
            ${values.op}, ${values.opV}, ${values.resourceKind}, ${values.resourceId},
            ${values.resourceUid}, ${values.gen}, ${values.after}, ${values.idem}, ${values.params},
            'queued', 0, 0, ${values.startBy}, ${values.timeoutS}, 0, ${values.createdBy},
            ${now}, ${now}
          FROM work_items WHERE host_id = ${values.hostId}`),
        deps.db.insert(workEvents).values({
          itemId: id,
          hostId: input.hostId,
          at: now,
          kind: "enqueued",
          detail: { op: input.op },
        }),
      ]);
      break;
    } catch (error) {
      if (attempt >= 5 || !String(error).includes("UNIQUE")) throw error;
    }
  }
  const [row] = await deps.db
    .select({ seq: workItems.seq })
    .from(workItems)
    .where(and(eq(workItems.id, id)));
  const seq = row?.seq ?? 0;
  await ring(deps, input.hostId, seq);
  return { id, seq };
}

/** Best effort: a failed ring is logged and left to the agent's timed claim. */
export async function ring(deps: Deps, hostId: string, seq: number): Promise<void> {
  try {
    await deps.wakeup?.ring(hostId, seq);
  } catch (error) {
    deps.log.warn("wake-up ring failed", { hostId, seq, error: String(error) });
  }
}
