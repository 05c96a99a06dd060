import { desc, eq } from "drizzle-orm";
import { hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { hostGraceUntil } from "./grace";
import { type HostHealth, hostHealth } from "./health";

export type HostView = {
  id: string;
  orgId: string;
  name: string;
  machineId: string;
  scope: string;
  state: string;
  health: HostHealth;
  maintenance: boolean;
  replacesHostId: string | null;
  facts: Record<string, unknown>;
  lastSeenAt: number | null;
  /** When the host last sent its status (capacity, usage, inventory). */
  lastStatusAt: number | null;
  clockOffsetMs: number | null;
  createdAt: number;
};

export function hostView(deps: Deps, row: typeof hosts.$inferSelect): HostView {
  return {
    id: row.id,
    orgId: row.orgId,
    name: row.name,
    machineId: row.machineId,
    scope: row.scope,
    state: row.state,
    health: hostHealth(row, deps.clock.now(), deps.config.agent, hostGraceUntil(deps)),
    maintenance: row.maintenance,
    replacesHostId: row.replacesHostId,
    facts: row.facts,
    lastSeenAt: row.lastSeenAt,
    lastStatusAt: row.lastStatusAt,
    clockOffsetMs: row.clockOffsetMs,
    createdAt: row.createdAt,
  };
}

/** The hosts of an organization with their derived health, newest first. */
export async function listHosts(deps: Deps, orgId: string): Promise<HostView[]> {
  const rows = await deps.db
    .select()
    .from(hosts)
    .where(eq(hosts.orgId, orgId))
    .orderBy(desc(hosts.createdAt));
  return rows.map((row) => hostView(deps, row));
}

export async function getHost(deps: Deps, hostId: string): Promise<HostView | undefined> {
  const row = await deps.db.query.hosts.findFirst({ where: eq(hosts.id, hostId) });
  return row ? hostView(deps, row) : undefined;
}
