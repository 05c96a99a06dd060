import { and, eq, inArray } from "drizzle-orm";
import { ACTIVE_WORK_STATES, type HostState, hosts, workItems } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { actorId, commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import { refusedResult, resultEffects } from "../work/effects";
import { mayHaveRun } from "../work/load-item";
import { abortUnlessChanged, isStaleWrite, retryStaleOnce } from "../write-guard";

export type HostDecision = "approve" | "reject" | "disable" | "revoke" | "enable";

/** Work that has not ended. */
const OPEN = ["queued", ...ACTIVE_WORK_STATES] as const;

const TARGET: Record<HostDecision, HostState> = {
  approve: "approved",
  reject: "rejected",
  disable: "disabled",
  revoke: "revoked",
  enable: "approved",
};

/** Which states each decision may start from. Revoked and rejected are final. */
const FROM: Record<HostDecision, readonly HostState[]> = {
  approve: ["pending"],
  reject: ["pending"],
  disable: ["approved"],
  enable: ["disabled"],
  revoke: ["pending", "approved", "disabled"],
};

/** The decision as a past participle, for messages. */
const DONE: Record<HostDecision, string> = {
  approve: "approved",
  reject: "rejected",
  disable: "disabled",
  enable: "enabled",
  revoke: "revoked",
};

/**
 * Moves a host between states, with its audit event, in one batch. Every agent call reads the host
 * row, so the new state takes effect on the next call; rejecting or revoking also cancels open work.
 * Approving a re-enrollment revokes the identity it replaces.
 */
export function decideHost(...args: Parameters<typeof decideOnce>): ReturnType<typeof decideOnce> {
  // A decision racing another (or an item changing under the shut-out) is made again on what
  // the other left: the same target is then a no-op, another state a clear 409.
  return retryStaleOnce(() => decideOnce(...args));
}

async function decideOnce(
  sc: ServiceContext,
  hostId: string,
  decision: HostDecision,
): Promise<{ id: string; state: HostState }> {
  const { db, clock } = sc.deps;
  const host = await db.query.hosts.findFirst({ where: eq(hosts.id, hostId) });
  if (!host) throw new ServiceError("NOT_FOUND", "No such host.");
  const to = TARGET[decision];
  if (host.state === to) return { id: host.id, state: host.state };
  if (!FROM[decision].includes(host.state)) {
    throw new ServiceError(
      "CONFLICT",
      `This host is ${host.state}; only a ${FROM[decision].join(" or ")} host can be ${DONE[decision]}.`,
    );
  }
  const now = clock.now();
  const decided = { decidedBy: actorId(sc.actor), decidedAt: now, updatedAt: now };
  const statements: Statement[] = [
    db
      .update(hosts)
      .set({ state: to, ...decided })
      .where(and(eq(hosts.id, hostId), eq(hosts.state, host.state))),
    abortUnlessChanged(db),
    auditStatement(sc, {
      action: `host.${decision}`,
      target: { type: "host", id: hostId },
      orgId: host.orgId,
      detail: { from: host.state, to },
    }),
  ];
  if (to === "rejected" || to === "revoked") {
    statements.push(...(await shutOut(sc, hostId, now, to)));
  }
  if (decision === "approve" && host.replacesHostId !== null) {
    statements.push(
      db
        .update(hosts)
        .set({ state: "revoked", ...decided })
        .where(eq(hosts.id, host.replacesHostId)),
      ...(await shutOut(sc, host.replacesHostId, now, "revoked")),
      auditStatement(sc, {
        action: "host.revoke",
        target: { type: "host", id: host.replacesHostId },
        orgId: host.orgId,
        detail: { replacedBy: hostId },
      }),
    );
  }
  await commit(db, statements);
  // Work queued between the read in shutOut and the commit ends too. Nothing can be queued for
  // these hosts now (enqueueWork checks the host's state in its INSERT), so this read sees it all.
  const closed: { id: string; why: "revoked" | "rejected" }[] = [];
  if (to === "rejected" || to === "revoked") closed.push({ id: hostId, why: to });
  if (decision === "approve" && host.replacesHostId !== null) {
    closed.push({ id: host.replacesHostId, why: "revoked" });
  }
  for (const { id, why } of closed) await shutOutLate(sc, id, now, why);
  // A host that may no longer work hears it now: its agent claims when the socket drops.
  const shutOutHosts = [
    ...(to === "rejected" || to === "disabled" || to === "revoked" ? [hostId] : []),
    ...(decision === "approve" && host.replacesHostId !== null ? [host.replacesHostId] : []),
  ];
  for (const id of shutOutHosts) await hangUp(sc, id);
  return { id: hostId, state: to };
}

/** The second look after the decision: an item its host ends meanwhile is simply read again. */
async function shutOutLate(
  sc: ServiceContext,
  hostId: string,
  now: number,
  why: "revoked" | "rejected",
): Promise<void> {
  for (let tries = 0; tries < 3; tries++) {
    try {
      await commit(sc.deps.db, await shutOut(sc, hostId, now, why));
      return;
    } catch (err) {
      if (!isStaleWrite(err)) throw err;
    }
  }
  sc.deps.log.warn("host shut-out: open items kept changing; some may stay open", { hostId });
}

async function hangUp(sc: ServiceContext, hostId: string): Promise<void> {
  try {
    await sc.deps.wakeup?.hangUp?.(hostId);
  } catch (error) {
    // Best effort: the agent's next heartbeat or claim is refused anyway.
    sc.deps.log.warn("doorbell hang-up failed", { hostId, error: String(error) });
  }
}

/**
 * A host that may no longer work: its open items end `cancelled`, and what each was for follows (a
 * VM operation fails with `host_revoked` / `host_rejected`, the VM as its host last reported it).
 */
async function shutOut(
  sc: ServiceContext,
  hostId: string,
  now: number,
  why: "revoked" | "rejected",
): Promise<Statement[]> {
  const { db } = sc.deps;
  const open = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.hostId, hostId), inArray(workItems.state, [...OPEN])));
  const statements: Statement[] = [];
  for (const item of open) {
    const ran = mayHaveRun(item);
    statements.push(
      // Each item as it was read: if its host finished it meanwhile, it keeps its result and the
      // whole decision is made again.
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
        sc.deps,
        item,
        refusedResult(item, `host_${why}`, `The host was ${why} before it finished this.`),
        ran,
      )),
    );
  }
  return statements;
}
