import { eq } from "drizzle-orm";
import { apiTokens, projectMembers, projects } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import { projectRef, tokenRef } from "../orgs/shared";
import { deleteTuples, deleteTuplesAbout } from "../relationships";
import { projectIsEmpty } from "./is-empty";
import { loadProject, orgOfProject } from "./shared";

/**
 * Deletes an empty project (409 `not_empty` otherwise) with its project roles and the API tokens
 * scoped to it, and every tuple about them.
 */
export async function deleteProject(sc: ServiceContext, projectId: string): Promise<void> {
  return auditRefusals(
    sc,
    {
      action: "project.delete",
      target: projectRef(projectId),
      orgId: () => orgOfProject(sc.deps, projectId),
    },
    async () => {
      const ref = projectRef(projectId);
      await authorizeActor(sc, ref, "delete");
      const { db } = sc.deps;
      const project = await loadProject(sc.deps, projectId);
      if (!(await projectIsEmpty(sc.deps, projectId))) {
        throw new ServiceError(
          "CONFLICT",
          "Delete the project's resources first.",
          [],
          "not_empty",
        );
      }
      const tokens = await db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(eq(apiTokens.projectId, projectId));
      const statements: Statement[] = [];
      for (const { id } of tokens) {
        statements.push(deleteTuplesAbout(sc, tokenRef(id)), deleteTuples(sc, tokenRef(id)));
      }
      statements.push(
        db.delete(apiTokens).where(eq(apiTokens.projectId, projectId)),
        db.delete(projectMembers).where(eq(projectMembers.projectId, projectId)),
        deleteTuples(sc, ref),
        deleteTuplesAbout(sc, ref),
        db.delete(projects).where(eq(projects.id, projectId)),
        auditStatement(sc, {
          action: "project.delete",
          target: ref,
          orgId: project.orgId,
          detail: { name: project.name, slug: project.slug },
        }),
      );
      await commit(db, statements);
    },
  );
}
