import { eq } from "drizzle-orm";
import { memberships, organizations } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { PLATFORM } from "../identity/users";
import { writeTuples } from "../relationships";
import {
  isUniqueViolation,
  type OrganizationRow,
  orgRef,
  personOf,
  roleTuple,
  slugify,
  slugSuffix,
  slugTaken,
  userRef,
} from "./shared";

export type CreateOrganizationInput = { name: string; slug?: string | undefined };

/** Creates an organization; the person creating it becomes its (first) owner. */
export async function createOrganization(
  sc: ServiceContext,
  input: CreateOrganizationInput,
): Promise<OrganizationRow> {
  return auditRefusals(
    sc,
    { action: "organization.create", target: PLATFORM, orgId: null },
    async () => {
      await authorizeActor(sc, PLATFORM, "create_organization", { viewPermission: null });
      const userId = personOf(sc);
      const { db, clock, ids } = sc.deps;
      const name = input.name.trim();
      let slug = input.slug ?? slugify(name);
      const taken = async (s: string) =>
        (
          await db
            .select({ id: organizations.id })
            .from(organizations)
            .where(eq(organizations.slug, s))
        ).length > 0;
      if (await taken(slug)) {
        if (input.slug !== undefined) throw slugTaken(slug);
        slug = `${slug}-${slugSuffix(sc.deps)}`;
      }
      const now = clock.now();
      const org: OrganizationRow = {
        id: ids.next("organization"),
        slug,
        name,
        createdAt: now,
        updatedAt: now,
      };
      const ref = orgRef(org.id);
      try {
        await commit(db, [
          db.insert(organizations).values(org),
          db.insert(memberships).values({ orgId: org.id, userId, role: "owner", createdAt: now }),
          ...writeTuples(sc, [
            roleTuple(ref, "platform", PLATFORM),
            roleTuple(ref, "owner", userRef(userId)),
          ]),
          auditStatement(sc, {
            action: "organization.create",
            target: ref,
            orgId: org.id,
            detail: { name, slug },
          }),
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) throw slugTaken(slug);
        throw err;
      }
      return org;
    },
  );
}
