import { asc, eq } from "drizzle-orm";
import { memberships, type OrgRole, users } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { orgRef } from "./shared";

export type MemberView = {
  userId: string;
  email: string;
  displayName: string;
  role: OrgRole;
  createdAt: number;
};

/** Everyone who may see an organization may see who else is in it. */
export async function listMembers(sc: ServiceContext, orgId: string): Promise<MemberView[]> {
  await authorizeActor(sc, orgRef(orgId), "view");
  return sc.deps.db
    .select({
      userId: memberships.userId,
      email: users.email,
      displayName: users.displayName,
      role: memberships.role,
      createdAt: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, orgId))
    .orderBy(asc(memberships.createdAt), asc(users.email));
}
