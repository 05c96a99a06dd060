import { type ProjectRole, projectMembers } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commitOr, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { findMembership, projectRef, roleTuple, userRef } from "../orgs/shared";
import { writeTuples } from "../relationships";
import { findProjectMember, loadProject, orgOfProject, type ProjectMemberRow } from "./shared";

/** Gives a member of the project's organization a role on this project. */
export async function addProjectMember(
  sc: ServiceContext,
  projectId: string,
  input: { userId: string; role: ProjectRole },
): Promise<ProjectMemberRow> {
  return auditRefusals(
    sc,
    {
      action: "project_member.add",
      target: projectRef(projectId),
      orgId: () => orgOfProject(sc.deps, projectId),
    },
    async () => {
      const ref = projectRef(projectId);
      await authorizeActor(sc, ref, "manage_members");
      const project = await loadProject(sc.deps, projectId);
      if (!(await findMembership(sc.deps, project.orgId, input.userId))) {
        throw new ServiceError(
          "VALIDATION",
          "Only members of the organization can be given project roles; invite them first.",
          [
            {
              in: "body",
              field: "userId",
              code: "not_member",
              message: "not a member of the organization",
            },
          ],
        );
      }
      const already = () =>
        new ServiceError(
          "CONFLICT",
          "This person already has a role on the project; change it instead.",
          [],
          "already_member",
        );
      if (await findProjectMember(sc.deps, projectId, input.userId)) throw already();
      const row: ProjectMemberRow = {
        projectId,
        userId: input.userId,
        role: input.role,
        createdAt: sc.deps.clock.now(),
      };
      // Added by another request since the look above: the same answer as if it came first.
      await commitOr(already, sc.deps.db, [
        sc.deps.db.insert(projectMembers).values(row),
        ...writeTuples(sc, [roleTuple(ref, input.role, userRef(input.userId))]),
        auditStatement(sc, {
          action: "project_member.add",
          target: ref,
          orgId: project.orgId,
          detail: { userId: input.userId, role: input.role },
        }),
      ]);
      return row;
    },
  );
}
