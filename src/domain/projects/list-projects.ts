import { and, asc, eq, inArray } from "drizzle-orm";
import { projects } from "../../db/schema";
import { authorizeActor } from "../authorize";
import { type ServiceContext, subjectOf } from "../context";
import { orgRef } from "../orgs/shared";
import type { ProjectRow } from "./shared";

/**
 * The projects of an organization the caller may see (one lookup, no check per row). Someone
 * with only a project role sees that project, but needs `view` on the organization to list.
 */
export async function listProjects(sc: ServiceContext, orgId: string): Promise<ProjectRow[]> {
  await authorizeActor(sc, orgRef(orgId), "view");
  const ids = await sc.deps.authz.lookupEntity({
    entityType: "project",
    permission: "view",
    subject: subjectOf(sc.actor),
  });
  if (ids.length === 0) return [];
  return sc.deps.db
    .select()
    .from(projects)
    .where(and(eq(projects.orgId, orgId), inArray(projects.id, ids)))
    .orderBy(asc(projects.name), asc(projects.id));
}
