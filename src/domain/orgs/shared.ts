import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { EntityRef, Tuple } from "../../authz/authorizer";
import { failedWith } from "../../db/errors";
import {
  apiTokens,
  authzTuples,
  invitations,
  memberships,
  ORG_ROLES,
  type OrgRole,
  organizations,
  PROJECT_ROLES,
  projectMembers,
  projects,
} from "../../db/schema";
import type { Deps } from "../../deps";
import { commit, type ServiceContext, type Statement, subjectOf } from "../context";
import { ServiceError } from "../errors";
import { deleteTuples, deleteTuplesAbout } from "../relationships";

/** Shared pieces of the organization verbs: refs, rows, role order and membership removal. */

export type OrganizationRow = typeof organizations.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;

export const orgRef = (id: string): EntityRef => ({ type: "organization", id });
export const projectRef = (id: string): EntityRef => ({ type: "project", id });
export const userRef = (id: string): EntityRef => ({ type: "user", id });
export const tokenRef = (id: string): EntityRef => ({ type: "api_token", id });

/** owner > admin > member > viewer; project roles use the same order (they have no owner). */
export const ROLE_RANK: Record<OrgRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export function roleTuple(entity: EntityRef, role: string, subject: EntityRef): Tuple {
  return { entity, relation: role, subject };
}

/** The organization row; authorization has already been checked, so a missing row is a 404. */
export async function loadOrganization(deps: Deps, orgId: string): Promise<OrganizationRow> {
  const [row] = await deps.db
    .select()
    .from(organizations)
    .where(eq(organizations.id, orgId))
    .limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No organization ${orgId}.`);
  return row;
}

export async function findMembership(
  deps: Deps,
  orgId: string,
  userId: string,
): Promise<MembershipRow | undefined> {
  const [row] = await deps.db
    .select()
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)))
    .limit(1);
  return row;
}

export async function countOwners(deps: Deps, orgId: string): Promise<number> {
  const rows = await deps.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")));
  return rows.length;
}

export function lastOwnerError(message: string): ServiceError {
  return new ServiceError("CONFLICT", message, [], "last_owner");
}

/**
 * The caller's effective role on an organization or project as the authorization model sees it
 * (org roles reach into projects; project roles add to them), or null when it may not see it.
 */
export async function effectiveRole(
  sc: ServiceContext,
  entity: EntityRef,
): Promise<OrgRole | null> {
  const subject = subjectOf(sc.actor);
  const ladder: [string, OrgRole][] =
    entity.type === "organization"
      ? [
          ["manage_owners", "owner"],
          ["is_admin", "admin"],
          ["is_member", "member"],
          ["view", "viewer"],
        ]
      : [
          ["is_admin", "admin"],
          ["is_member", "member"],
          ["view", "viewer"],
        ];
  for (const [permission, role] of ladder) {
    if ((await sc.deps.authz.check({ entity, permission, subject })).allowed) return role;
  }
  return null;
}

/**
 * Statements that revoke one API token and every token minted with it, their children and so on
 * (a leaked token's offspring must not outlive it): the rows are kept (with `revoked_at`), their
 * roles go.
 */
export function revokeTokenStatements(sc: ServiceContext, tokenId: string): Statement[] {
  const { db } = sc.deps;
  const descendants = sql`WITH RECURSIVE minted(id) AS (
      SELECT ${apiTokens.id} FROM ${apiTokens} WHERE ${apiTokens.parentTokenId} = ${tokenId}
      UNION SELECT t.id FROM ${apiTokens} t JOIN minted ON t.parent_token_id = minted.id
    ) SELECT id FROM minted`;
  return [
    // Roles first: the subquery still sees every descendant (revoked or not).
    db.run(
      sql`DELETE FROM ${authzTuples} WHERE ${authzTuples.subjectType} = 'api_token'
        AND ${authzTuples.subjectId} IN (${descendants})`,
    ),
    db
      .update(apiTokens)
      .set({ revokedAt: sc.deps.clock.now() })
      .where(and(isNull(apiTokens.revokedAt), sql`${apiTokens.id} IN (${descendants})`)),
    db.update(apiTokens).set({ revokedAt: sc.deps.clock.now() }).where(eq(apiTokens.id, tokenId)),
    deleteTuplesAbout(sc, tokenRef(tokenId)),
  ];
}

/**
 * Withdraws the pending invitations someone sent that they could no longer send with `role` (none
 * once they are not a member, or only a member or viewer; owner invitations once only an admin):
 * an invitation must not outlive the authority of whoever created it.
 */
export function withdrawInvitationsStatement(
  sc: ServiceContext,
  orgId: string,
  userId: string,
  role: OrgRole | null,
): Statement | undefined {
  if (role === "owner") return undefined;
  const now = sc.deps.clock.now();
  return sc.deps.db
    .update(invitations)
    .set({ revokedAt: now })
    .where(
      and(
        eq(invitations.orgId, orgId),
        eq(invitations.invitedBy, userId),
        isNull(invitations.acceptedAt),
        isNull(invitations.revokedAt),
        role === "admin" ? eq(invitations.role, "owner") : undefined,
      ),
    );
}

/**
 * Everything that goes when a person stops being a member of an organization: the membership,
 * their project roles in its projects, the tuples of both, the API tokens they minted there and
 * the invitations they sent that are still pending.
 */
export async function removeMemberStatements(
  sc: ServiceContext,
  orgId: string,
  userId: string,
): Promise<{ statements: Statement[]; revokedTokens: string[] }> {
  const { db } = sc.deps;
  const orgProjects = await db
    .select({ id: projects.id })
    .from(projects)
    .where(eq(projects.orgId, orgId));
  const projectIds = orgProjects.map((p) => p.id);
  const tokens = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(
      and(eq(apiTokens.orgId, orgId), eq(apiTokens.createdBy, userId), isNull(apiTokens.revokedAt)),
    );
  const revokedTokens = tokens.map((t) => t.id);
  const statements: Statement[] = [
    db.delete(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId))),
    deleteTuples(sc, orgRef(orgId), { relations: ORG_ROLES, subject: userRef(userId) }),
  ];
  if (projectIds.length > 0) {
    statements.push(
      db
        .delete(projectMembers)
        .where(
          and(eq(projectMembers.userId, userId), inArray(projectMembers.projectId, projectIds)),
        ),
    );
    for (const projectId of projectIds) {
      statements.push(
        deleteTuples(sc, projectRef(projectId), {
          relations: PROJECT_ROLES,
          subject: userRef(userId),
        }),
      );
    }
  }
  for (const tokenId of revokedTokens) statements.push(...revokeTokenStatements(sc, tokenId));
  const withdrawn = withdrawInvitationsStatement(sc, orgId, userId, null);
  if (withdrawn) statements.push(withdrawn);
  return { statements, revokedTokens };
}

/** URL- and DNS-safe slugs: lower-case letters, digits and single dashes, 1–63 characters. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50)
    .replace(/-+$/, "");
  return slug === "" ? "x" : slug;
}

/** A short random suffix that makes a derived slug unique again. */
export function slugSuffix(deps: Deps): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let out = "";
  for (const b of deps.random.bytes(5)) out += alphabet.charAt(b % 32);
  return out;
}

export function slugTaken(slug: string): ServiceError {
  return new ServiceError(
    "CONFLICT",
    `The name ${slug} is taken; choose another.`,
    [{ in: "body", field: "slug", code: "taken", message: "already in use" }],
    "slug_taken",
  );
}

/** Whether a failed batch failed on a UNIQUE constraint (a concurrent insert won). */
export function isUniqueViolation(err: unknown): boolean {
  return failedWith(err, /UNIQUE constraint failed/i);
}

/** The person behind the actor; verbs that only people may do (own an org, leave it) use it. */
export function personOf(sc: ServiceContext): string {
  if (sc.actor.kind !== "user") {
    throw new ServiceError("FORBIDDEN", "Only a signed-in person can do this, not an API token.");
  }
  return sc.actor.userId;
}

const NO_OWNER_LEFT = "NOT NULL constraint failed: memberships";

/**
 * A statement that makes its batch fail when the organization is left without an owner, so the
 * "at least one owner" rule also holds against concurrent demotions (each batch is a transaction
 * and sees its own earlier statements). Put it after the statements that change memberships and
 * map the failure with `isNoOwnerLeft`.
 */
export function ownerGuard(sc: ServiceContext, orgId: string): Statement {
  return sc.deps.db
    .insert(memberships)
    .select(
      sql`select null, null, null, null where not exists (select 1 from ${memberships} where ${memberships.orgId} = ${orgId} and ${memberships.role} = 'owner')`,
    );
}

export function isNoOwnerLeft(err: unknown): boolean {
  return failedWith(err, NO_OWNER_LEFT);
}

/** Commits a batch that touches owners, with the owner guard at its end. */
export async function commitKeepingAnOwner(
  sc: ServiceContext,
  orgId: string,
  statements: Statement[],
): Promise<void> {
  try {
    await commit(sc.deps.db, [...statements, ownerGuard(sc, orgId)]);
  } catch (err) {
    if (isNoOwnerLeft(err)) throw lastOwnerError("An organization needs at least one owner.");
    throw err;
  }
}
