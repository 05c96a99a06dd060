import { and, eq } from "drizzle-orm";
import { projectMembers, projects } from "../../db/schema";
import type { Deps } from "../../deps";
import { ServiceError } from "../errors";

export type ProjectRow = typeof projects.$inferSelect;
export type ProjectMemberRow = typeof projectMembers.$inferSelect;

/** The project row; authorization has already been checked, so a missing row is a 404. */
export async function loadProject(deps: Deps, projectId: string): Promise<ProjectRow> {
  const [row] = await deps.db.select().from(projects).where(eq(projects.id, projectId)).limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No project ${projectId}.`);
  return row;
}

export async function findProjectMember(
  deps: Deps,
  projectId: string,
  userId: string,
): Promise<ProjectMemberRow | undefined> {
  const [row] = await deps.db
    .select()
    .from(projectMembers)
    .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
    .limit(1);
  return row;
}

/** The organization a project belongs to, or null when there is no such project. */
export async function orgOfProject(deps: Deps, projectId: string): Promise<string | null> {
  const [row] = await deps.db
    .select({ orgId: projects.orgId })
    .from(projects)
    .where(eq(projects.id, projectId))
    .limit(1);
  return row?.orgId ?? null;
}
