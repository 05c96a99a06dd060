import { and, eq } from "drizzle-orm";
import { PROJECT_ROLES, type ProjectRole, projectMembers } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { projectRef, revokeTokenStatements, roleTuple, userRef } from "../orgs/shared";
import { deleteTuples, writeTuples } from "../relationships";
import { projectTokensOutranking } from "../tokens/outranking";
import { findProjectMember, loadProject, orgOfProject, type ProjectMemberRow } from "./shared";

/** Changes someone's role on a project. */
export async function changeProjectMember(
  sc: ServiceContext,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<ProjectMemberRow> {
  return auditRefusals(
    sc,
    {
      action: "project_member.change_role",
      target: projectRef(projectId),
      orgId: () => orgOfProject(sc.deps, projectId),
    },
    async () => {
      const ref = projectRef(projectId);
      await authorizeActor(sc, ref, "manage_members");
      const project = await loadProject(sc.deps, projectId);
      const member = await findProjectMember(sc.deps, projectId, userId);
      if (!member) throw new ServiceError("NOT_FOUND", `${userId} has no role on ${projectId}.`);
      if (member.role === role) return member;
      // Their tokens for this project may not outrank the role they are left with.
      const revoked = await projectTokensOutranking(sc.deps, project, userId, role);
      await commit(sc.deps.db, [
        sc.deps.db
          .update(projectMembers)
          .set({ role })
          .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId))),
        deleteTuples(sc, ref, { relations: PROJECT_ROLES, subject: userRef(userId) }),
        ...writeTuples(sc, [roleTuple(ref, role, userRef(userId))]),
        auditStatement(sc, {
          action: "project_member.change_role",
          target: ref,
          orgId: project.orgId,
          detail: {
            userId,
            from: member.role,
            to: role,
            ...(revoked.length > 0 ? { revokedTokens: revoked } : {}),
          },
        }),
        ...revoked.flatMap((tokenId) => revokeTokenStatements(sc, tokenId)),
      ]);
      return { ...member, role };
    },
  );
}
