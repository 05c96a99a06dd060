import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { invitations } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import type { InvitationRow } from "./create-invitation";
import { orgRef } from "./shared";

/** Invitations that can still be accepted (not used, revoked or expired), oldest first. */
export async function listInvitations(sc: ServiceContext, orgId: string): Promise<InvitationRow[]> {
  await authorizeActor(sc, orgRef(orgId), "manage_members");
  return sc.deps.db
    .select()
    .from(invitations)
    .where(
      and(
        eq(invitations.orgId, orgId),
        isNull(invitations.acceptedAt),
        isNull(invitations.revokedAt),
        gt(invitations.expiresAt, sc.deps.clock.now()),
      ),
    )
    .orderBy(asc(invitations.createdAt), asc(invitations.id));
}
