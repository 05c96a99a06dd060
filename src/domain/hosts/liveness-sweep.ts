import { and, eq, isNotNull } from "drizzle-orm";
import { type HostLiveness, hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { auditIfChangedStatement } from "../audit/record";
import type { ServiceContext } from "../context";
import { hostGraceUntil } from "./grace";
import { hostHealth } from "./health";

export type LivenessChange = { hostId: string; from: HostLiveness; to: HostLiveness };

function livenessOf(health: ReturnType<typeof hostHealth>): HostLiveness {
  return health === "offline" || health === "unreachable" ? health : "online";
}

/**
 * Design §2.12's backstop sweep: health is derived when read (health.ts), but operators need to
 * hear when a host goes Unreachable or Offline, and when it comes back. Each run compares every
 * approved host's liveness with the one last recorded and writes each change once: the new value
 * (guarded, so two sweeps cannot both record it) and an audit event `host.unreachable`,
 * `host.offline` or `host.online` by the system. Offline is logged as an alert.
 */
export async function sweepHostLiveness(deps: Deps): Promise<LivenessChange[]> {
  const now = deps.clock.now();
  const graceUntil = hostGraceUntil(deps);
  // While silence is not held against hosts (after a control-plane restart), health shows what
  // hosts last reported: recording that would write a false "back online", then "offline" again.
  if (now < graceUntil) return [];
  const rows = await deps.db
    .select({
      id: hosts.id,
      orgId: hosts.orgId,
      name: hosts.name,
      state: hosts.state,
      lastSeenAt: hosts.lastSeenAt,
      reportedHealth: hosts.reportedHealth,
      liveness: hosts.liveness,
    })
    .from(hosts)
    .where(and(eq(hosts.state, "approved"), isNotNull(hosts.lastSeenAt)));
  const sc: ServiceContext = { deps, actor: { kind: "system" }, requestId: `sweep:${now}` };
  const changes: LivenessChange[] = [];
  for (const host of rows) {
    const to = livenessOf(hostHealth(host, now, deps.config.agent, graceUntil));
    if (to === host.liveness) continue;
    const silentS = host.lastSeenAt === null ? null : Math.round((now - host.lastSeenAt) / 1000);
    const [updated] = await deps.db.batch([
      deps.db
        .update(hosts)
        .set({ liveness: to, livenessChangedAt: now })
        .where(and(eq(hosts.id, host.id), eq(hosts.liveness, host.liveness)))
        .returning({ id: hosts.id }),
      auditIfChangedStatement(sc, {
        action: `host.${to}`,
        target: { type: "host", id: host.id },
        orgId: host.orgId,
        detail: { from: host.liveness, silent_s: silentS },
      }),
    ]);
    if (updated.length === 0) continue;
    changes.push({ hostId: host.id, from: host.liveness, to });
    const fields = { hostId: host.id, name: host.name, from: host.liveness, silentS };
    if (to === "offline") deps.log.warn("host lost: offline", { ...fields, alert: true });
    else if (to === "unreachable") deps.log.warn("host unreachable", fields);
    else deps.log.info("host back online", fields);
  }
  return changes;
}
