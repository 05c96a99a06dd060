import { asc, inArray } from "drizzle-orm";
import { organizations, projects } from "../../db/schema";
import type { Deps } from "../../deps";

export type NamedRef = { id: string; name: string };

/**
 * What the console's switcher offers a person: the organizations they can see and, for the
 * current one, its projects they can see. One lookup per entity type, never a check per row.
 */
export async function consoleContext(
  deps: Deps,
  userId: string,
  currentOrgId: string | undefined,
): Promise<{ orgs: NamedRef[]; projects: NamedRef[]; currentOrgId: string | undefined }> {
  const subject = { type: "user", id: userId };
  const orgIds = await deps.authz.lookupEntity({
    entityType: "organization",
    permission: "view",
    subject,
  });
  const orgs =
    orgIds.length === 0
      ? []
      : await deps.db
          .select({ id: organizations.id, name: organizations.name })
          .from(organizations)
          .where(inArray(organizations.id, orgIds))
          .orderBy(asc(organizations.name));
  const current = orgs.find((o) => o.id === currentOrgId)?.id ?? orgs[0]?.id;
  if (current === undefined) return { orgs, projects: [], currentOrgId: undefined };
  const projectIds = await deps.authz.lookupEntity({
    entityType: "project",
    permission: "view",
    subject,
  });
  const visible =
    projectIds.length === 0
      ? []
      : await deps.db
          .select({ id: projects.id, name: projects.name, orgId: projects.orgId })
          .from(projects)
          .where(inArray(projects.id, projectIds))
          .orderBy(asc(projects.name));
  return {
    orgs,
    projects: visible.filter((p) => p.orgId === current).map(({ id, name }) => ({ id, name })),
    currentOrgId: current,
  };
}
