import { and, eq, ne } from "drizzle-orm";
import { organizations } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import {
  isUniqueViolation,
  loadOrganization,
  type OrganizationRow,
  orgRef,
  slugTaken,
} from "./shared";

export type UpdateOrganizationInput = { name?: string | undefined; slug?: string | undefined };

/** Renames an organization (display name and/or slug). */
export async function updateOrganization(
  sc: ServiceContext,
  orgId: string,
  input: UpdateOrganizationInput,
): Promise<OrganizationRow> {
  return auditRefusals(
    sc,
    { action: "organization.update", target: orgRef(orgId), orgId },
    async () => {
      const ref = orgRef(orgId);
      await authorizeActor(sc, ref, "update");
      const { db, clock } = sc.deps;
      const before = await loadOrganization(sc.deps, orgId);
      const name = input.name?.trim() ?? before.name;
      const slug = input.slug ?? before.slug;
      if (slug !== before.slug) {
        const clash = await db
          .select({ id: organizations.id })
          .from(organizations)
          .where(and(eq(organizations.slug, slug), ne(organizations.id, orgId)));
        if (clash.length > 0) throw slugTaken(slug);
      }
      const updatedAt = clock.now();
      try {
        await commit(db, [
          db
            .update(organizations)
            .set({ name, slug, updatedAt })
            .where(eq(organizations.id, orgId)),
          auditStatement(sc, {
            action: "organization.update",
            target: ref,
            orgId,
            detail: { from: { name: before.name, slug: before.slug }, to: { name, slug } },
          }),
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) throw slugTaken(slug);
        throw err;
      }
      return { ...before, name, slug, updatedAt };
    },
  );
}
