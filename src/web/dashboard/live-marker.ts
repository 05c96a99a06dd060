import { inArray, sql } from "drizzle-orm";
import {
  DESIRED_STATES,
  hosts,
  OBSERVED_STATES,
  OPERATION_STATUSES,
  projectQuotas,
  vms,
} from "../../db/schema";
import type { Deps } from "../../deps";
import { hostGraceUntil } from "../../domain/hosts/grace";
import { hostHealth } from "../../domain/hosts/health";
import { newestOperationsPerProject, RECENT_OPERATIONS } from "./queries";
import type { DashboardScope } from "./view-model";

/** Each state's and status's position in one string: a number per name, for weighted sums. */
const CODES = `|${[...OBSERVED_STATES, ...DESIRED_STATES, ...OPERATION_STATUSES].join("|")}|`;
const code = (column: unknown) => sql`instr(${CODES}, '|' || ${column} || '|')`;

/**
 * The dashboard's change marker (src/web/live/stream.ts): its VMs and quota limits as sums (each
 * state weighted by its row, so a change shows even within a millisecond) and the listed
 * operations' statuses, in one query, and its hosts' health counts, which are derived from the time since each host was
 * last heard from and so are computed here as the page does.
 */
export async function dashboardMarker(deps: Deps, scope: DashboardScope): Promise<string> {
  const projectIds = scope.projects.map((p) => p.id);
  const orgIds = scope.hostOrgs.map((o) => o.id);
  const inProjects = (column: typeof vms.projectId) =>
    projectIds.length === 0 ? sql`0` : inArray(column, projectIds);
  const [sums] = await deps.db
    .select({
      vms: sql<string>`(select count(*) || ' ' || total(${vms.updatedAt}) || ' ' ||
        total(${vms}.rowid * (${code(vms.observedState)} * 256 + ${code(vms.desiredState)}))
        from ${vms} where ${inProjects(vms.projectId)})`,
      // Only the operations the dashboard lists: their ids and statuses, read per project
      // through its index, so the marker's cost does not grow with the operations' history.
      operations:
        projectIds.length === 0
          ? sql<string>`''`
          : sql<string>`(select group_concat(id || ':' || status, ' ') from (select id, status
              from (${newestOperationsPerProject(projectIds, RECENT_OPERATIONS)})
              order by created_at desc, id desc limit ${RECENT_OPERATIONS}))`,
      quotas: sql<string>`(select total(${projectQuotas.updatedAt}) from ${projectQuotas}
        where ${projectIds.length === 0 ? sql`0` : inArray(projectQuotas.projectId, projectIds)})`,
    })
    .from(sql`(select 1)`);
  const health: string[] = [];
  if (orgIds.length > 0) {
    const rows = await deps.db
      .select({
        orgId: hosts.orgId,
        state: hosts.state,
        lastSeenAt: hosts.lastSeenAt,
        reportedHealth: hosts.reportedHealth,
      })
      .from(hosts)
      .where(inArray(hosts.orgId, orgIds))
      .orderBy(hosts.orgId, hosts.id);
    const now = deps.clock.now();
    const graceUntil = hostGraceUntil(deps);
    for (const row of rows) {
      health.push(`${row.orgId}:${hostHealth(row, now, deps.config.agent, graceUntil)}`);
    }
  }
  return JSON.stringify({ sums, health });
}
