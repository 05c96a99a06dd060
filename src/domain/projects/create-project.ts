import { and, eq } from "drizzle-orm";
import { projects } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import {
  isUniqueViolation,
  loadOrganization,
  orgRef,
  projectRef,
  roleTuple,
  slugify,
  slugSuffix,
  slugTaken,
} from "../orgs/shared";
import { writeTuples } from "../relationships";
import type { ProjectRow } from "./shared";

export type CreateProjectInput = { name: string; slug?: string | undefined };

/** Creates a project in an organization (slugs are unique within the organization). */
export async function createProject(
  sc: ServiceContext,
  orgId: string,
  input: CreateProjectInput,
): Promise<ProjectRow> {
  return auditRefusals(sc, { action: "project.create", target: orgRef(orgId), orgId }, async () => {
    await authorizeActor(sc, orgRef(orgId), "create_project");
    await loadOrganization(sc.deps, orgId);
    const { db, clock, ids } = sc.deps;
    const name = input.name.trim();
    let slug = input.slug ?? slugify(name);
    const taken = async (s: string) =>
      (
        await db
          .select({ id: projects.id })
          .from(projects)
          .where(and(eq(projects.orgId, orgId), eq(projects.slug, s)))
      ).length > 0;
    if (await taken(slug)) {
      if (input.slug !== undefined) throw slugTaken(slug);
      slug = `${slug}-${slugSuffix(sc.deps)}`;
    }
    const now = clock.now();
    const project: ProjectRow = {
      id: ids.next("project"),
      orgId,
      slug,
      name,
      createdAt: now,
      updatedAt: now,
    };
    const ref = projectRef(project.id);
    try {
      await commit(db, [
        db.insert(projects).values(project),
        ...writeTuples(sc, [roleTuple(ref, "org", orgRef(orgId))]),
        auditStatement(sc, {
          action: "project.create",
          target: ref,
          orgId,
          detail: { name, slug },
        }),
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw slugTaken(slug);
      throw err;
    }
    return project;
  });
}
