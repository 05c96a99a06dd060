import { and, eq } from "drizzle-orm";
import { invitations, memberships, type OrgRole, users } from "../../db/schema";
import { newSecret, sha256Hex } from "../../lib/secrets";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { actingUserId, commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { normaliseEmail } from "../identity/users";
import { orgRef } from "./shared";

export type InvitationRow = typeof invitations.$inferSelect;

export const INVITATION_TTL_DAYS = 7;
const DAY_MS = 86_400_000;

export type CreateInvitationInput = {
  email: string;
  role: OrgRole;
  /** How long the link works; 7 days unless given. */
  expiresInDays?: number | undefined;
};

/** Where an invitation's secret is presented: the console's accept page. */
export function invitationUrl(origin: string, secret: string): string {
  return `${origin}/invitations/${secret}`;
}

/**
 * Invites someone by email. The link (returned once, never stored: only its SHA-256 is) works
 * once, until it expires. Inviting an owner takes `manage_owners`.
 */
export async function createInvitation(
  sc: ServiceContext,
  orgId: string,
  input: CreateInvitationInput,
): Promise<{ invitation: InvitationRow; url: string }> {
  return auditRefusals(
    sc,
    { action: "invitation.create", target: orgRef(orgId), orgId },
    async () => {
      const ref = orgRef(orgId);
      await authorizeActor(sc, ref, "manage_members");
      if (input.role === "owner") await authorizeActor(sc, ref, "manage_owners");
      const { db, clock, ids, random, config } = sc.deps;
      const email = normaliseEmail(input.email);
      const existing = await db
        .select({ userId: memberships.userId })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.orgId, orgId), eq(users.email, email)))
        .limit(1);
      if (existing.length > 0) {
        throw new ServiceError(
          "CONFLICT",
          `${email} is already a member.`,
          [{ in: "body", field: "email", code: "already_member", message: "already a member" }],
          "already_member",
        );
      }
      const secret = newSecret(random);
      const now = clock.now();
      const invitation: InvitationRow = {
        id: ids.next("invitation"),
        orgId,
        email,
        role: input.role,
        tokenHash: await sha256Hex(secret),
        invitedBy: actingUserId(sc.actor) ?? "system",
        createdAt: now,
        expiresAt: now + (input.expiresInDays ?? INVITATION_TTL_DAYS) * DAY_MS,
        acceptedAt: null,
        acceptedBy: null,
        revokedAt: null,
      };
      await commit(db, [
        db.insert(invitations).values(invitation),
        auditStatement(sc, {
          action: "invitation.create",
          target: { type: "invitation", id: invitation.id },
          orgId,
          detail: { email, role: input.role, expiresAt: invitation.expiresAt },
        }),
      ]);
      return { invitation, url: invitationUrl(config.webauthn.origin, secret) };
    },
  );
}
