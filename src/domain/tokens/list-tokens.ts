import { and, desc, eq, inArray } from "drizzle-orm";
import { apiTokens } from "../../db/schema";
import { authorizeActor } from "../authorize";
import { type ServiceContext, subjectOf } from "../context";
import { orgRef } from "../orgs/shared";
import { type ApiTokenView, tokenView } from "./shared";

/**
 * An organization's API tokens the caller may see: their own, or all of them for those who manage
 * tokens (one lookup, no check per row). Revoked ones stay listed with their revocation time.
 */
export async function listTokens(sc: ServiceContext, orgId: string): Promise<ApiTokenView[]> {
  await authorizeActor(sc, orgRef(orgId), "view");
  const ids = await sc.deps.authz.lookupEntity({
    entityType: "api_token",
    permission: "view",
    subject: subjectOf(sc.actor),
  });
  if (ids.length === 0) return [];
  const rows = await sc.deps.db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.orgId, orgId), inArray(apiTokens.id, ids)))
    .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
  return rows.map(tokenView);
}
