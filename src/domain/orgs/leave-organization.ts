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
  personOf,
  removeMemberStatements,
  userRef,
} from "./shared";

/** The caller leaves an organization (not as its last owner); their tokens there are revoked. */
export async function leaveOrganization(sc: ServiceContext, orgId: string): Promise<void> {
  return auditRefusals(sc, { action: "member.leave", target: orgRef(orgId), orgId }, async () => {
    const ref = orgRef(orgId);
    await authorizeActor(sc, ref, "leave");
    const userId = personOf(sc);
    const member = await findMembership(sc.deps, orgId, userId);
    if (!member) throw new ServiceError("NOT_FOUND", `You are not a member of ${orgId}.`);
    if (member.role === "owner" && (await countOwners(sc.deps, orgId)) <= 1) {
      throw lastOwnerError(
        "The last owner cannot leave; make someone else owner or delete the organization.",
      );
    }
    const { statements, revokedTokens } = await removeMemberStatements(sc, orgId, userId);
    await commitKeepingAnOwner(sc, orgId, [
      ...statements,
      auditStatement(sc, {
        action: "member.leave",
        target: userRef(userId),
        orgId,
        detail: { role: member.role, revokedTokens },
      }),
    ]);
  });
}
