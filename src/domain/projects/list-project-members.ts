import { asc, eq } from "drizzle-orm";
import { type ProjectRole, projectMembers, users } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { projectRef } from "../orgs/shared";

export type ProjectMemberView = {
  userId: string;
  email: string;
  displayName: string;
  role: ProjectRole;
  createdAt: number;
};

/** People with a role on this project itself (organization roles apply on top, not listed). */
export async function listProjectMembers(
  sc: ServiceContext,
  projectId: string,
): Promise<ProjectMemberView[]> {
  await authorizeActor(sc, projectRef(projectId), "view");
  return sc.deps.db
    .select({
      userId: projectMembers.userId,
      email: users.email,
      displayName: users.displayName,
      role: projectMembers.role,
      createdAt: projectMembers.createdAt,
    })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(eq(projectMembers.projectId, projectId))
    .orderBy(asc(projectMembers.createdAt), asc(users.email));
}
