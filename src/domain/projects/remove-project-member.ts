import { and, eq } from "drizzle-orm";
import { PROJECT_ROLES, projectMembers } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { projectRef, revokeTokenStatements, userRef } from "../orgs/shared";
import { deleteTuples } from "../relationships";
import { projectTokensOutranking } from "../tokens/outranking";
import { findProjectMember, loadProject, orgOfProject } from "./shared";

/** Takes someone's project role away (their organization role, if any, still applies). */
export async function removeProjectMember(
  sc: ServiceContext,
  projectId: string,
  userId: string,
): Promise<void> {
  return auditRefusals(
    sc,
    {
      action: "project_member.remove",
      target: projectRef(projectId),
      orgId: () => orgOfProject(sc.deps, projectId),
    },
    async () => {
      const ref = projectRef(projectId);
      await authorizeActor(sc, ref, "manage_members");
      const project = await loadProject(sc.deps, projectId);
      const member = await findProjectMember(sc.deps, projectId, userId);
      if (!member) throw new ServiceError("NOT_FOUND", `${userId} has no role on ${projectId}.`);
      // Their tokens for this project may not outlive the role they were minted under.
      const revoked = await projectTokensOutranking(sc.deps, project, userId, null);
      await commit(sc.deps.db, [
        sc.deps.db
          .delete(projectMembers)
          .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId))),
        deleteTuples(sc, ref, { relations: PROJECT_ROLES, subject: userRef(userId) }),
        auditStatement(sc, {
          action: "project_member.remove",
          target: ref,
          orgId: project.orgId,
          detail: {
            userId,
            role: member.role,
            ...(revoked.length > 0 ? { revokedTokens: revoked } : {}),
          },
        }),
        ...revoked.flatMap((tokenId) => revokeTokenStatements(sc, tokenId)),
      ]);
    },
  );
}
