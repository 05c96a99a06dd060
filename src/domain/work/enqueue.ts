import { eq, type SQL, sql } from "drizzle-orm";
import { hosts } from "../../db/schema";
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
  const queued = await insertItem(deps, input);
  if (queued) return queued;
  throw (
    (await refusal(deps, input.hostId)) ??
    new ServiceError("CONFLICT", "The host changed state while work was queued; retry.")
  );
}

/**
 * `enqueueWork`, only if `condition` (SQL) holds when the item is inserted, checked in the INSERT
 * itself: null when it did not (the host's state still refuses with its error).
 */
export async function enqueueWorkIf(
  deps: Deps,
  input: EnqueueInput,
  condition: SQL,
): Promise<{ id: string; seq: number } | null> {
  const queued = await insertItem(deps, input, condition);
  if (queued) return queued;
  const why = await refusal(deps, input.hostId);
  if (why) throw why;
  return null;
}

async function insertItem(
  deps: Deps,
  input: EnqueueInput,
  condition: SQL = sql`1`,
): Promise<{ id: string; seq: number } | null> {
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
  let seq: number | undefined;
  for (let attempt = 0; seq === undefined; attempt++) {
    try {
      // Only while the host is approved, checked in the INSERT itself: a host being rejected or
      // revoked ends its open work and must not get more (domain/hosts/transition.ts).
      const [inserted] = await deps.db.batch([
        deps.db.run(sql`
          INSERT INTO work_items (id, host_id, seq, tenant, op, op_v, resource_kind, resource_id,
            resource_uid, gen, after, idem, params, state, attempt, lease_epoch, start_by,
            timeout_s, late, created_by, created_at, updated_at)
          SELECT ${values.id}, ${values.hostId}, next.seq, ${values.tenant},
            ${values.op}, ${values.opV}, ${values.resourceKind}, ${values.resourceId},
            ${values.resourceUid}, ${values.gen}, ${values.after}, ${values.idem}, ${values.params},
            'queued', 0, 0, ${values.startBy}, ${values.timeoutS}, 0, ${values.createdBy},
            ${now}, ${now}
          FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM work_items
                WHERE host_id = ${values.hostId}) AS next
          WHERE EXISTS (SELECT 1 FROM hosts WHERE id = ${values.hostId} AND state = 'approved')
            AND (${condition})
          RETURNING seq`),
        deps.db.run(sql`
          INSERT INTO work_events (item_id, host_id, at, kind, detail)
          SELECT ${id}, ${values.hostId}, ${now}, 'enqueued', ${JSON.stringify({ op: input.op })}
          WHERE EXISTS (SELECT 1 FROM work_items WHERE id = ${id})`),
      ]);
      const row = inserted.rows[0];
      if (!row) return null;
      seq = Number(row.seq);
    } catch (error) {
      if (attempt >= 5 || !String(error).includes("UNIQUE")) throw error;
    }
  }
  await ring(deps, input.hostId, seq);
  return { id, seq };
}

/** Why the host refused an item: no such host, or it is not approved; null if it is approved. */
async function refusal(deps: Deps, hostId: string): Promise<ServiceError | null> {
  const host = await deps.db.query.hosts.findFirst({
    columns: { state: true },
    where: eq(hosts.id, hostId),
  });
  if (!host) return new ServiceError("NOT_FOUND", "No such host.");
  if (host.state === "approved") return null;
  return new ServiceError("CONFLICT", `Work cannot be queued for a ${host.state} host.`);
}

/** Best effort: a failed ring is logged and left to the agent's timed claim. */
export async function ring(deps: Deps, hostId: string, seq: number): Promise<void> {
  try {
    await deps.wakeup?.ring(hostId, seq);
  } catch (error) {
    deps.log.warn("wake-up ring failed", { hostId, seq, error: String(error) });
  }
}
