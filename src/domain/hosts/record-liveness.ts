import { eq } from "drizzle-orm";
import { hosts, type ReportedHealth } from "../../db/schema";
import type { Deps } from "../../deps";
import type { AgentHost } from "./authenticate-agent";

/**
 * Liveness is judged in tens of seconds (Unreachable after 30 s), so a busy agent's claims within
 * this long of its last recorded signal need no write of their own.
 */
export const LIVENESS_WRITE_INTERVAL_MS = 2_000;

/**
 * A liveness signal (heartbeat, claim, long poll): moves `last_seen_at`. Coming back online is
 * recorded (audit and log) by the liveness sweep (liveness-sweep.ts), not on this hot path.
 */
export async function recordHeartbeat(
  deps: Deps,
  host: AgentHost,
  input: { clockOffsetMs?: number | undefined } = {},
): Promise<void> {
  const now = deps.clock.now();
  const recent =
    host.lastSeenAt !== null && Math.abs(now - host.lastSeenAt) < LIVENESS_WRITE_INTERVAL_MS;
  if (recent && input.clockOffsetMs === undefined) return;
  await deps.db
    .update(hosts)
    .set({
      lastSeenAt: now,
      ...(input.clockOffsetMs === undefined ? {} : { clockOffsetMs: input.clockOffsetMs }),
    })
    .where(eq(hosts.id, host.id));
}

export type StatusReport = {
  health: Exclude<ReportedHealth, "discovering">;
  problems: string[];
  clock_offset_ms: number;
  capacity?: Record<string, number> | undefined;
  usage?: Record<string, number> | undefined;
  inventory: Record<string, unknown>[];
  versions?: Record<string, string> | undefined;
  journal_backlog: number;
  blocked: { item_id: string; after: string[] }[];
};

/** Clock offsets beyond this degrade the host to Warning (design §2.10). */
const DEGRADED_OFFSET_MS = 60_000;

/** A full status report: level-triggered, replaces the previous one, counts as liveness. */
export async function recordStatus(
  deps: Deps,
  host: AgentHost,
  report: StatusReport,
): Promise<void> {
  const now = deps.clock.now();
  let health = report.health;
  if (Math.abs(report.clock_offset_ms) > DEGRADED_OFFSET_MS && health === "healthy") {
    health = "warning";
  }
  await deps.db
    .update(hosts)
    .set({
      lastSeenAt: now,
      lastStatusAt: now,
      reportedHealth: health,
      status: { ...report },
      clockOffsetMs: report.clock_offset_ms,
    })
    .where(eq(hosts.id, host.id));
  if (host.reportedHealth !== health) {
    deps.log.info("host health changed", {
      hostId: host.id,
      from: host.reportedHealth,
      to: health,
    });
  }
}
