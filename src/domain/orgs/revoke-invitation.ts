import { and, eq } from "drizzle-orm";
import { invitations } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { orgRef } from "./shared";

/** Withdraws a pending invitation; its link stops working. */
export async function revokeInvitation(
  sc: ServiceContext,
  orgId: string,
  invitationId: string,
): Promise<void> {
  return auditRefusals(
    sc,
    { action: "invitation.revoke", target: { type: "invitation", id: invitationId }, orgId },
    async () => {
      await authorizeActor(sc, orgRef(orgId), "manage_members");
      const { db, clock } = sc.deps;
      const [invitation] = await db
        .select()
        .from(invitations)
        .where(and(eq(invitations.id, invitationId), eq(invitations.orgId, orgId)))
        .limit(1);
      if (!invitation) throw new ServiceError("NOT_FOUND", `No invitation ${invitationId}.`);
      if (invitation.acceptedAt !== null || invitation.revokedAt !== null) {
        throw new ServiceError(
          "CONFLICT",
          invitation.acceptedAt !== null
            ? "This invitation has been accepted already."
            : "This invitation has been revoked already.",
        );
      }
      await commit(db, [
        db
          .update(invitations)
          .set({ revokedAt: clock.now() })
          .where(eq(invitations.id, invitationId)),
        auditStatement(sc, {
          action: "invitation.revoke",
          target: { type: "invitation", id: invitationId },
          orgId,
          detail: { email: invitation.email, role: invitation.role },
        }),
      ]);
    },
  );
}
