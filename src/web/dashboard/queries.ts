import { inArray, sql } from "drizzle-orm";
import type { Database } from "../../db/database";
import { type OperationStatus, operations, projects, vms } from "../../db/schema";
import { subjectOf } from "../../domain/context";
import { currentActor } from "../../http/auth";
import type { Ctx } from "../../http/env";

/**
 * Read models of the dashboard that no domain verb offers yet: everything is limited to the
 * projects the caller may `view` (one `lookupEntity`, never a check per row).
 */
export async function visibleProjects(c: Ctx) {
  const ids = await c.var.deps.authz.lookupEntity({
    entityType: "project",
    permission: "view",
    subject: subjectOf(currentActor(c)),
  });
  if (ids.length === 0) return [];
  return c.var.deps.db
    .select({ id: projects.id, name: projects.name, orgId: projects.orgId })
    .from(projects)
    .where(inArray(projects.id, ids))
    .orderBy(projects.name, projects.id);
}

/** VMs by observed state in these projects. */
export async function vmCountsByState(c: Ctx, projectIds: readonly string[]) {
  if (projectIds.length === 0) return [];
  const rows = await c.var.deps.db
    .select({ state: vms.observedState, count: sql<number>`count(*)` })
    .from(vms)
    .where(inArray(vms.projectId, [...projectIds]))
    .groupBy(vms.observedState);
  return rows.map((r) => ({ state: r.state, count: Number(r.count) }));
}

/**
 * Each project's own newest `limit` operations, read through its (project_id, created_at) index:
 * merged and cut to `limit` by the caller, their cost does not grow with the operations' history
 * (an IN over several projects would read every operation of those projects to sort them).
 * SQLite allows 500 terms in a compound SELECT; past `MERGED_PROJECTS` the plain IN is used.
 */
export function newestOperationsPerProject(projectIds: readonly string[], limit: number) {
  if (projectIds.length > MERGED_PROJECTS) {
    return sql`SELECT id, kind, status, target_id, created_at FROM ${operations}
      WHERE project_id IN (${sql.join(
        projectIds.map((id) => sql`${id}`),
        sql`, `,
      )})`;
  }
  return sql.join(
    projectIds.map(
      (id) => sql`SELECT * FROM (SELECT id, kind, status, target_id, created_at FROM ${operations}
        WHERE project_id = ${id} ORDER BY created_at DESC, id DESC LIMIT ${limit})`,
    ),
    sql` UNION ALL `,
  );
}
const MERGED_PROJECTS = 200;

/** How many of the latest operations the dashboard lists. */
export const RECENT_OPERATIONS = 10;

/** The latest operations in these projects, with the name of their VM. */
export async function recentOperations(
  db: Database,
  projectIds: readonly string[],
  limit = RECENT_OPERATIONS,
) {
  if (projectIds.length === 0) return [];
  const rows = await db.all<{
    id: string;
    kind: string;
    status: OperationStatus;
    target_id: string;
    created_at: number;
    vm_name: string | null;
  }>(sql`SELECT o.id, o.kind, o.status, o.target_id, o.created_at, v.name AS vm_name
    FROM (${newestOperationsPerProject(projectIds, limit)}) o
    LEFT JOIN ${vms} v ON v.id = o.target_id
    ORDER BY o.created_at DESC, o.id DESC LIMIT ${limit}`);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: r.status,
    targetId: r.target_id,
    createdAt: r.created_at,
    vmName: r.vm_name,
  }));
}
