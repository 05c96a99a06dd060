import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";
import {
  commitKeepingAnOwner,
  countOwners,
  findMembership,
  lastOwnerError,
  orgRef,
  removeMemberStatements,
  userRef,
} from "./shared";

/**
 * Removes someone from an organization (owners only by owners; never the last owner), with their
 * project roles there and the API tokens they minted for it.
 */
export async function removeMember(
  sc: ServiceContext,
  orgId: string,
  userId: string,
): Promise<void> {
  return auditRefusals(
    sc,
    { action: "member.remove", target: userRef(userId), orgId },
    async () => {
      const ref = orgRef(orgId);
      await authorizeActor(sc, ref, "manage_members");
      const member = await findMembership(sc.deps, orgId, userId);
      if (!member) throw new ServiceError("NOT_FOUND", `${userId} is not a member of ${orgId}.`);
      if (member.role === "owner") {
        await authorizeActor(sc, ref, "manage_owners");
        if ((await countOwners(sc.deps, orgId)) <= 1) {
          throw lastOwnerError("The last owner cannot be removed; make someone else owner first.");
        }
      }
      const { statements, revokedTokens } = await removeMemberStatements(sc, orgId, userId);
      await commitKeepingAnOwner(sc, orgId, [
        ...statements,
        auditStatement(sc, {
          action: "member.remove",
          target: userRef(userId),
          orgId,
          detail: { role: member.role, revokedTokens },
        }),
      ]);
    },
  );
}
