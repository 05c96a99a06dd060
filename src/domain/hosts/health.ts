import type { AppConfig } from "../../config";
import type { hosts } from "../../db/schema";

export const HOST_HEALTH = [
  "pending",
  "discovering",
  "healthy",
  "warning",
  "critical",
  "unreachable",
  "offline",
  "inactive",
] as const;
export type HostHealth = (typeof HOST_HEALTH)[number];

type HostRow = typeof hosts.$inferSelect;

/**
 * The health model (issue 5 §7), derived when read so that no sweeper is needed for correctness:
 * Discovering until the first liveness and status, then what the agent reports
 * (Healthy/Warning/Critical), overridden by Unreachable after `unreachableAfterMs` without
 * liveness and Offline after `offlineAfterMs`. Hosts that are not approved are `pending` or
 * `inactive`. Maintenance is a separate flag. Until `graceUntil` (the restart grace period, see
 * grace.ts) silence is not held against a host: it keeps its last reported health.
 */
export function hostHealth(
  host: Pick<HostRow, "state" | "lastSeenAt" | "reportedHealth">,
  now: number,
  config: AppConfig["agent"],
  graceUntil = 0,
): HostHealth {
  if (host.state === "pending") return "pending";
  if (host.state !== "approved") return "inactive";
  if (host.lastSeenAt === null) return "discovering";
  if (now < graceUntil) return host.reportedHealth;
  const silence = now - host.lastSeenAt;
  if (silence >= config.offlineAfterMs) return "offline";
  if (silence >= config.unreachableAfterMs) return "unreachable";
  return host.reportedHealth;
}
