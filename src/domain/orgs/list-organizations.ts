import { and, asc, eq, inArray } from "drizzle-orm";
import { memberships, organizations } from "../../db/schema";
import { type ServiceContext, subjectOf } from "../context";
import type { OrganizationView } from "./get-organization";

/** The organizations the caller may see (one lookup, no check per row), by name. */
export async function listOrganizations(sc: ServiceContext): Promise<OrganizationView[]> {
  const { db, authz } = sc.deps;
  const ids = await authz.lookupEntity({
    entityType: "organization",
    permission: "view",
    subject: subjectOf(sc.actor),
  });
  if (ids.length === 0) return [];
  const rows = await db
    .select()
    .from(organizations)
    .where(inArray(organizations.id, ids))
    .orderBy(asc(organizations.name), asc(organizations.id));
  const { actor } = sc;
  const roles = new Map<string, OrganizationView["role"]>();
  if (actor.kind === "user") {
    const mine = await db
      .select({ orgId: memberships.orgId, role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.userId, actor.userId), inArray(memberships.orgId, ids)));
    for (const m of mine) roles.set(m.orgId, m.role);
  } else if (actor.kind === "api_token" && actor.projectId === null) {
    roles.set(actor.orgId, actor.role);
  }
  return rows.map((row) => ({ ...row, role: roles.get(row.id) ?? null }));
}
