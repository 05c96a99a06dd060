import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { auditEvents, authzTuples, invitations, memberships } from "../../db/schema";
import type { Deps } from "../../deps";
import { sha256Hex } from "../../lib/secrets";
import type { AuditEventRow } from "../audit/list-audit-events";
import { type Actor, actorId, commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import type { InvitationRow } from "./create-invitation";
import { findMembership, loadOrganization, type OrganizationRow, personOf } from "./shared";

function actorTypeOf(actor: Actor): AuditEventRow["actorType"] {
  return actor.kind;
}

function invalid(): ServiceError {
  return new ServiceError(
    "PRECONDITION_FAILED",
    "This invitation has expired, been used or been withdrawn. Ask for a new one.",
    [],
    "invitation_invalid",
  );
}

/**
 * The invitation a link secret (or, inside the sign-up flow, an id) stands for, if it can still be
 * accepted; otherwise 410 `invitation_invalid` (unknown, expired, used and revoked all look alike).
 */
export async function findUsableInvitation(
  deps: Deps,
  secret: string | { id: string },
): Promise<InvitationRow> {
  const where =
    typeof secret === "string"
      ? eq(invitations.tokenHash, await sha256Hex(secret))
      : eq(invitations.id, secret.id);
  const [row] = await deps.db.select().from(invitations).where(where).limit(1);
  if (!row || row.acceptedAt !== null || row.revokedAt !== null) throw invalid();
  if (deps.clock.now() >= row.expiresAt) throw invalid();
  return row;
}

/**
 * Statements that accept an invitation for `userId`: mark it used, add the membership and its
 * role tuple. The membership and tuple are inserted only if this batch's own update consumed the
 * invitation, so two concurrent acceptances cannot both get in. Also used by sign-up.
 */
export function acceptInvitationStatements(
  sc: ServiceContext,
  invitation: InvitationRow,
  userId: string,
): Statement[] {
  const { db } = sc.deps;
  const now = sc.deps.clock.now();
  const consumed = and(
    eq(invitations.id, invitation.id),
    eq(invitations.acceptedBy, userId),
    eq(invitations.acceptedAt, now),
  );
  return [
    db
      .update(invitations)
      .set({ acceptedAt: now, acceptedBy: userId })
      .where(
        and(
          eq(invitations.id, invitation.id),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
          gt(invitations.expiresAt, now),
        ),
      ),
    db.insert(memberships).select(
      db
        .select({
          orgId: invitations.orgId,
          userId: sql<string>`${userId}`.as("user_id"),
          role: invitations.role,
          createdAt: sql<number>`${now}`.as("created_at"),
        })
        .from(invitations)
        .where(consumed),
    ),
    db
      .insert(authzTuples)
      .select(
        db
          .select({
            id: sql<number | null>`null`.as("id"),
            entityType: sql<string>`'organization'`.as("entity_type"),
            entityId: invitations.orgId,
            relation: invitations.role,
            subjectType: sql<string>`'user'`.as("subject_type"),
            subjectId: sql<string>`${userId}`.as("subject_id"),
            subjectRelation: sql<string>`''`.as("subject_relation"),
            createdAt: sql<number>`${now}`.as("created_at"),
          })
          .from(invitations)
          .where(consumed),
      )
      .onConflictDoNothing(),
    // The audit row, too, only when this batch consumed the invitation.
    db.insert(auditEvents).select(
      db
        .select({
          id: sql<string>`${sc.deps.ids.next("audit")}`.as("id"),
          at: sql<number>`${now}`.as("at"),
          actorType: sql<AuditEventRow["actorType"]>`${actorTypeOf(sc.actor)}`.as("actor_type"),
          actorId: sql<string>`${actorId(sc.actor)}`.as("actor_id"),
          action: sql<string>`'invitation.accept'`.as("action"),
          targetType: sql<string>`'invitation'`.as("target_type"),
          targetId: invitations.id,
          orgId: invitations.orgId,
          outcome: sql<"success">`'success'`.as("outcome"),
          requestId: sql<string>`${sc.requestId}`.as("request_id"),
          detail: sql<string>`${JSON.stringify({
            email: invitation.email,
            role: invitation.role,
            userId,
          })}`.as("detail"),
        })
        .from(invitations)
        .where(consumed),
    ),
  ];
}

/**
 * A signed-in person accepts an invitation link: they become a member with the invited role. The
 * link's secret is the authorization (no schema permission: they are not a member yet); it is not
 * tied to the invited address, like any link sent to someone's mailbox.
 */
export async function acceptInvitation(
  sc: ServiceContext,
  secret: string,
): Promise<{ organization: OrganizationRow; role: InvitationRow["role"] }> {
  const userId = personOf(sc);
  const invitation = await findUsableInvitation(sc.deps, secret);
  if (await findMembership(sc.deps, invitation.orgId, userId)) {
    throw new ServiceError(
      "CONFLICT",
      "You are already a member of this organization.",
      [],
      "already_member",
    );
  }
  await commit(sc.deps.db, acceptInvitationStatements(sc, invitation, userId));
  // A concurrent acceptance may have consumed it between our read and our batch.
  if (!(await findMembership(sc.deps, invitation.orgId, userId))) throw invalid();
  return {
    organization: await loadOrganization(sc.deps, invitation.orgId),
    role: invitation.role,
  };
}
