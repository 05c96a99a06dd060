import { and, eq, inArray } from "drizzle-orm";
import { type HostState, hosts } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { actorId, commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import { abortUnlessChanged, retryStaleOnce } from "../write-guard";
import { shutOutPage, shutOutRest } from "./shut-out";

export type HostDecision = "approve" | "reject" | "disable" | "revoke" | "enable";

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
    statements.push(...(await shutOutPage(sc.deps, hostId, now, to)).statements);
  }
  // The identity this one replaces, if it still works: one already revoked (or rejected) is left
  // as it is, with its decision and audit trail.
  const replaced =
    decision === "approve" && host.replacesHostId !== null
      ? await db.query.hosts.findFirst({
          columns: { id: true, state: true },
          where: and(
            eq(hosts.id, host.replacesHostId),
            inArray(hosts.state, ["approved", "disabled", "pending"]),
          ),
        })
      : undefined;
  if (replaced) {
    statements.push(
      db
        .update(hosts)
        .set({ state: "revoked", ...decided })
        .where(and(eq(hosts.id, replaced.id), eq(hosts.state, replaced.state))),
      abortUnlessChanged(db),
      ...(await shutOutPage(sc.deps, replaced.id, now, "revoked")).statements,
      auditStatement(sc, {
        action: "host.revoke",
        target: { type: "host", id: replaced.id },
        orgId: host.orgId,
        detail: { replacedBy: hostId },
      }),
    );
  }
  await commit(db, statements);
  // The decision ended the first page of open work; the rest, and work queued between that read
  // and the commit, end now (or in the periodic jobs).
  const closed: { id: string; why: "revoked" | "rejected" }[] = [];
  if (to === "rejected" || to === "revoked") closed.push({ id: hostId, why: to });
  if (replaced) closed.push({ id: replaced.id, why: "revoked" });
  for (const { id, why } of closed) await shutOutRest(sc.deps, id, now, why);
  // A host that may no longer work hears it now: its agent claims when the socket drops.
  const shutOutHosts = [
    ...(to === "rejected" || to === "disabled" || to === "revoked" ? [hostId] : []),
    ...(replaced ? [replaced.id] : []),
  ];
  for (const id of shutOutHosts) await hangUp(sc, id);
  return { id: hostId, state: to };
}

async function hangUp(sc: ServiceContext, hostId: string): Promise<void> {
  try {
    await sc.deps.wakeup?.hangUp?.(hostId);
  } catch (error) {
    // Best effort: the agent's next heartbeat or claim is refused anyway.
    sc.deps.log.warn("doorbell hang-up failed", { hostId, error: String(error) });
  }
}
