import { and, eq } from "drizzle-orm";
import { memberships, ORG_ROLES, type OrgRole } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import type { ServiceContext, Statement } from "../context";
import { ServiceError } from "../errors";
import { deleteTuples, writeTuples } from "../relationships";
import { rolesInOrg, tokensOutranking } from "../tokens/outranking";
import {
  commitKeepingAnOwner,
  countOwners,
  findMembership,
  lastOwnerError,
  type MembershipRow,
  orgRef,
  revokeTokenStatements,
  roleTuple,
  userRef,
  withdrawInvitationsStatement,
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
      const now = await rolesInOrg(sc.deps, orgId, userId);
      const revoked = await tokensOutranking(sc.deps, orgId, userId, { ...now, org: role });
      for (const tokenId of revoked) statements.push(...revokeTokenStatements(sc, tokenId));
      const withdrawn = withdrawInvitationsStatement(sc, orgId, userId, role);
      if (withdrawn) statements.push(withdrawn);
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
