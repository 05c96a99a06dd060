import { and, eq, isNull } from "drizzle-orm";
import {
  apiTokens,
  memberships,
  type OrgRole,
  type ProjectRole,
  projectMembers,
} from "../../db/schema";
import type { Deps } from "../../deps";
import { ROLE_RANK } from "../orgs/shared";

/** A person's roles in one organization: there, and on each of its projects they have one on. */
export type RolesInOrg = { org: OrgRole | null; projects: ReadonlyMap<string, ProjectRole> };

/** The roles a person has in the organization now, as stored. */
export async function rolesInOrg(deps: Deps, orgId: string, userId: string): Promise<RolesInOrg> {
  const [membership] = await deps.db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)))
    .limit(1);
  const projects = new Map<string, ProjectRole>();
  for (const p of await deps.db
    .select({ projectId: projectMembers.projectId, role: projectMembers.role })
    .from(projectMembers)
    .where(eq(projectMembers.userId, userId))) {
    projects.set(p.projectId, p.role);
  }
  return { org: membership?.role ?? null, projects };
}

/**
 * The active tokens a person minted in the organization that would outrank them with `roles`
 * (after a demotion or a removal, here or on a project): a token may never hold more than its
 * maker, so these are revoked with the change. An organization-wide token is bounded by the org
 * role, a project token by the higher of the org role and the role on that project. `onlyProject`
 * limits the look to one project's tokens (a change there touches no others).
 */
export async function tokensOutranking(
  deps: Deps,
  orgId: string,
  userId: string,
  roles: RolesInOrg,
  onlyProject?: string,
): Promise<string[]> {
  const tokens = await deps.db
    .select({ id: apiTokens.id, role: apiTokens.role, projectId: apiTokens.projectId })
    .from(apiTokens)
    .where(
      and(
        eq(apiTokens.orgId, orgId),
        eq(apiTokens.createdBy, userId),
        isNull(apiTokens.revokedAt),
        onlyProject === undefined ? undefined : eq(apiTokens.projectId, onlyProject),
      ),
    );
  const rank = (role: OrgRole | null | undefined) => (role ? ROLE_RANK[role] : 0);
  return tokens
    .filter((t) => {
      const onProject = t.projectId === null ? undefined : roles.projects.get(t.projectId);
      return ROLE_RANK[t.role] > Math.max(rank(roles.org), rank(onProject));
    })
    .map((t) => t.id);
}

/**
 * `tokensOutranking` for a change on one project: the person's tokens for that project that would
 * outrank them once their role there is `role` (null: removed from it).
 */
export async function projectTokensOutranking(
  deps: Deps,
  project: { id: string; orgId: string },
  userId: string,
  role: ProjectRole | null,
): Promise<string[]> {
  const roles = await rolesInOrg(deps, project.orgId, userId);
  const projects = new Map(roles.projects);
  if (role === null) projects.delete(project.id);
  else projects.set(project.id, role);
  return tokensOutranking(deps, project.orgId, userId, { ...roles, projects }, project.id);
}
