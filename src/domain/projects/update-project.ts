import { and, eq, ne } from "drizzle-orm";
import { projects } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { isUniqueViolation, projectRef, slugTaken } from "../orgs/shared";
import { loadProject, orgOfProject, type ProjectRow } from "./shared";

export type UpdateProjectInput = { name?: string | undefined; slug?: string | undefined };

/** Renames a project (display name and/or slug). */
export async function updateProject(
  sc: ServiceContext,
  projectId: string,
  input: UpdateProjectInput,
): Promise<ProjectRow> {
  return auditRefusals(
    sc,
    {
      action: "project.update",
      target: projectRef(projectId),
      orgId: () => orgOfProject(sc.deps, projectId),
    },
    async () => {
      const ref = projectRef(projectId);
      await authorizeActor(sc, ref, "update");
      const { db, clock } = sc.deps;
      const before = await loadProject(sc.deps, projectId);
      const name = input.name?.trim() ?? before.name;
      const slug = input.slug ?? before.slug;
      if (slug !== before.slug) {
        const clash = await db
          .select({ id: projects.id })
          .from(projects)
          .where(
            and(
              eq(projects.orgId, before.orgId),
              eq(projects.slug, slug),
              ne(projects.id, projectId),
            ),
          );
        if (clash.length > 0) throw slugTaken(slug);
      }
      const updatedAt = clock.now();
      try {
        await commit(db, [
          db.update(projects).set({ name, slug, updatedAt }).where(eq(projects.id, projectId)),
          auditStatement(sc, {
            action: "project.update",
            target: ref,
            orgId: before.orgId,
            detail: { from: { name: before.name, slug: before.slug }, to: { name, slug } },
          }),
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) throw slugTaken(slug);
        throw err;
      }
      return { ...before, name, slug, updatedAt };
    },
  );
}
