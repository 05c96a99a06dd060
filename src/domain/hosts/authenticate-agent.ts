import { and, eq, getTableColumns, gt } from "drizzle-orm";
import { agentAccessTokens, type HostState, hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import { sha256Hex } from "../../lib/secrets";

/**
 * The host row as agent endpoints see it: without `facts` and the last `status` (its VM
 * inventory can be large), which every agent call would otherwise read and parse.
 */
export type AgentHost = Omit<typeof hosts.$inferSelect, "status" | "facts">;
const { status: _status, facts: _facts, ...agentHostColumns } = getTableColumns(hosts);

/** Refuses hosts that may not act; pending hosts only where `allowPending`. */
export function refuseUnusableHost(state: HostState, options: { allowPending: boolean }): void {
  switch (state) {
    case "approved":
      return;
    case "pending":
      if (options.allowPending) return;
      throw new ProblemError({
        code: "pending_approval",
        detail: "This host is waiting for an operator to approve it.",
      });
    case "rejected":
      throw new ProblemError({
        code: "host_rejected",
        detail: "This host's enrollment was rejected.",
      });
    case "disabled":
      throw new ProblemError({ code: "host_disabled", detail: "This host is disabled." });
    case "revoked":
      throw new ProblemError({ code: "host_revoked", detail: "This host's identity was revoked." });
  }
}

/**
 * Resolves a bearer access token to its host, reading the host row on every call so that a
 * revoked or disabled host is refused immediately (not when its token expires).
 */
export async function authenticateAgent(
  deps: Deps,
  authorization: string | undefined,
  options: { allowPending: boolean },
): Promise<AgentHost> {
  const match = /^Bearer ([A-Za-z0-9_-]{10,200})$/.exec(authorization ?? "");
  if (!match?.[1]) {
    throw new ProblemError({ code: "unauthenticated", detail: "Send an agent access token." });
  }
  const hash = await sha256Hex(match[1]);
  const rows = await deps.db
    .select({ host: agentHostColumns })
    .from(agentAccessTokens)
    .innerJoin(hosts, eq(hosts.id, agentAccessTokens.hostId))
    .where(
      and(eq(agentAccessTokens.tokenHash, hash), gt(agentAccessTokens.expiresAt, deps.clock.now())),
    )
    .limit(1);
  const host = rows[0]?.host;
  if (!host) {
    throw new ProblemError({
      code: "unauthenticated",
      detail: "The access token is unknown or expired; get a new one at /api/v1/agent/token.",
    });
  }
  refuseUnusableHost(host.state, options);
  return host;
}
