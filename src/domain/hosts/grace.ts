import { max } from "drizzle-orm";
import { hosts } from "../../db/schema";
import type { Deps } from "../../deps";

/**
 * The restart grace period (issue 5 §7): right after the control plane starts, hosts it has not
 * heard from for a while are not declared Unreachable or Offline at once, because the silence may be
 * the control plane's own outage. If no host at all has been seen for `unreachableAfterMs` when a
 * process (or Worker isolate) starts, health waits one more `unreachableAfterMs` for agents to check
 * in; a fleet that was reporting moments ago (an isolate recycle, a deploy) gets no grace.
 */
const graceUntil = new WeakMap<Deps, number>();

/** Works out the grace period once per deps; a failure leaves it to the next call. */
export async function ensureHostGrace(deps: Deps): Promise<void> {
  if (graceUntil.has(deps)) return;
  try {
    const now = deps.clock.now();
    const [row] = await deps.db.select({ latest: max(hosts.lastSeenAt) }).from(hosts);
    const latest = row?.latest ?? null;
    const { unreachableAfterMs } = deps.config.agent;
    const silent = latest !== null && now - latest >= unreachableAfterMs;
    if (!graceUntil.has(deps)) graceUntil.set(deps, silent ? now + unreachableAfterMs : 0);
  } catch (err) {
    deps.log.warn("host grace period not known yet", { error: String(err) });
  }
}

/** Until when health holds back Unreachable/Offline (0: no grace); set by `ensureHostGrace`. */
export function hostGraceUntil(deps: Deps): number {
  return graceUntil.get(deps) ?? 0;
}
