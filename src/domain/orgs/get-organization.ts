import type { OrgRole } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { Actor, ServiceContext } from "../context";
import { findMembership, loadOrganization, type OrganizationRow, orgRef } from "./shared";

export type OrganizationView = OrganizationRow & { role: OrgRole | null };

/** The role an actor holds in an organization directly (a person's membership, a token's role). */
export async function directRole(
  sc: ServiceContext,
  actor: Actor,
  orgId: string,
): Promise<OrgRole | null> {
  if (actor.kind === "user")
    return (await findMembership(sc.deps, orgId, actor.userId))?.role ?? null;
  if (actor.kind === "api_token" && actor.orgId === orgId && actor.projectId === null) {
    return actor.role;
  }
  return null;
}

export async function getOrganization(
  sc: ServiceContext,
  orgId: string,
): Promise<OrganizationView> {
  await authorizeActor(sc, orgRef(orgId), "view");
  const org = await loadOrganization(sc.deps, orgId);
  return { ...org, role: await directRole(sc, sc.actor, orgId) };
}
