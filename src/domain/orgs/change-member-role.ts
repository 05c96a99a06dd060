import { and, eq, isNull } from "drizzle-orm";
import {
  apiTokens,
  memberships,
  ORG_ROLES,
  type OrgRole,
  type ProjectRole,
  projectMembers,
} from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import type { ServiceContext, Statement } from "../context";
import { ServiceError } from "../errors";
import { deleteTuples, writeTuples } from "../relationships";
import {
  commitKeepingAnOwner,
  countOwners,
  findMembership,
  lastOwnerError,
  type MembershipRow,
  orgRef,
  ROLE_RANK,
  revokeTokenStatements,
  roleTuple,
  userRef,
} from "./shared";

/**
 * Changes a member's organization role. Managing members takes `manage_members`; making someone
 * owner or changing an owner's role also takes `manage_owners`. The last owner stays an owner.
 * Tokens the member minted with a role above their new one are revoked.
 */
export async function changeMemberRole(
  sc: ServiceContext,
  orgId: string,
  userId: string,
  role: OrgRole,
): Promise<MembershipRow> {
  return auditRefusals(
    sc,
    { action: "member.change_role", target: userRef(userId), orgId },
    async () => {
      const ref = orgRef(orgId);
      await authorizeActor(sc, ref, "manage_members");
      const { db } = sc.deps;
      const member = await findMembership(sc.deps, orgId, userId);
      if (!member) throw new ServiceError("NOT_FOUND", `${userId} is not a member of ${orgId}.`);
      if (role === "owner" || member.role === "owner") {
        await authorizeActor(sc, ref, "manage_owners");
      }
      if (member.role === role) return member;
      if (member.role === "owner" && (await countOwners(sc.deps, orgId)) <= 1) {
        throw lastOwnerError("The last owner cannot be demoted; make someone else owner first.");
      }
      const statements: Statement[] = [
        db
          .update(memberships)
          .set({ role })
          .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId))),
        deleteTuples(sc, ref, { relations: ORG_ROLES, subject: userRef(userId) }),
        ...writeTuples(sc, [roleTuple(ref, role, userRef(userId))]),
      ];
      const revoked = await tokensAboveRole(sc, orgId, userId, role);
      for (const tokenId of revoked) statements.push(...revokeTokenStatements(sc, tokenId));
      statements.push(
        auditStatement(sc, {
          action: "member.change_role",
          target: userRef(userId),
          orgId,
          detail: {
            from: member.role,
            to: role,
            ...(revoked.length > 0 ? { revokedTokens: revoked } : {}),
          },
        }),
      );
      await commitKeepingAnOwner(sc, orgId, statements);
      return { ...member, role };
    },
  );
}

/** Active tokens a member minted in the org that would outrank them after a demotion. */
async function tokensAboveRole(
  sc: ServiceContext,
  orgId: string,
  userId: string,
  role: OrgRole,
): Promise<string[]> {
  const { db } = sc.deps;
  const tokens = await db
    .select({ id: apiTokens.id, role: apiTokens.role, projectId: apiTokens.projectId })
    .from(apiTokens)
    .where(
      and(eq(apiTokens.orgId, orgId), eq(apiTokens.createdBy, userId), isNull(apiTokens.revokedAt)),
    );
  if (tokens.length === 0) return [];
  const projectRoles = new Map<string, ProjectRole>();
  for (const p of await db
    .select({ projectId: projectMembers.projectId, role: projectMembers.role })
    .from(projectMembers)
    .where(eq(projectMembers.userId, userId))) {
    projectRoles.set(p.projectId, p.role);
  }
  return tokens
    .filter((t) => {
      const projectRole = t.projectId === null ? undefined : projectRoles.get(t.projectId);
      const ceiling = Math.max(ROLE_RANK[role], projectRole ? ROLE_RANK[projectRole] : 0);
      return ROLE_RANK[t.role] > ceiling;
    })
    .map((t) => t.id);
}
