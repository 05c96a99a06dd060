import { eq } from "drizzle-orm";
import { apiTokens, invitations, memberships, organizations, projects } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import { deleteTuples, deleteTuplesAbout } from "../relationships";
import { loadOrganization, orgRef, tokenRef } from "./shared";

/**
 * Deletes an organization that has no projects left (409 `not_empty` otherwise), with its
 * memberships, invitations, API tokens and every authorization tuple about them.
 */
export async function deleteOrganization(sc: ServiceContext, orgId: string): Promise<void> {
  return auditRefusals(
    sc,
    { action: "organization.delete", target: orgRef(orgId), orgId },
    async () => {
      const ref = orgRef(orgId);
      await authorizeActor(sc, ref, "delete");
      const { db } = sc.deps;
      const org = await loadOrganization(sc.deps, orgId);
      const remaining = await db
        .select({ id: projects.id })
        .from(projects)
        .where(eq(projects.orgId, orgId))
        .limit(1);
      if (remaining.length > 0) {
        throw new ServiceError(
          "CONFLICT",
          "Delete the organization's projects first.",
          [],
          "not_empty",
        );
      }
      const tokens = await db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(eq(apiTokens.orgId, orgId));
      const statements: Statement[] = [];
      for (const { id } of tokens) {
        statements.push(deleteTuplesAbout(sc, tokenRef(id)), deleteTuples(sc, tokenRef(id)));
      }
      statements.push(
        db.delete(apiTokens).where(eq(apiTokens.orgId, orgId)),
        db.delete(invitations).where(eq(invitations.orgId, orgId)),
        db.delete(memberships).where(eq(memberships.orgId, orgId)),
        deleteTuples(sc, ref),
        deleteTuplesAbout(sc, ref),
        db.delete(organizations).where(eq(organizations.id, orgId)),
        auditStatement(sc, {
          action: "organization.delete",
          target: ref,
          orgId,
          detail: { name: org.name, slug: org.slug },
        }),
      );
      await commit(db, statements);
    },
  );
}
