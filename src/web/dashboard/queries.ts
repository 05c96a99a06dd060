import { desc, eq, inArray, sql } from "drizzle-orm";
import { operations, projects, vms } from "../../db/schema";
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

/** The latest operations in these projects, with the name of their VM. */
export async function recentOperations(c: Ctx, projectIds: readonly string[], limit = 10) {
  if (projectIds.length === 0) return [];
  return c.var.deps.db
    .select({
      id: operations.id,
      kind: operations.kind,
      status: operations.status,
      targetId: operations.targetId,
      createdAt: operations.createdAt,
      vmName: vms.name,
    })
    .from(operations)
    .leftJoin(vms, eq(vms.id, operations.targetId))
    .where(inArray(operations.projectId, [...projectIds]))
    .orderBy(desc(operations.createdAt), desc(operations.id))
    .limit(limit);
}
