import { eq } from "drizzle-orm";
import { apiTokens } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { revokeTokenStatements, tokenRef } from "../orgs/shared";

/** Revokes a token (its creator or an organization admin). Revoking twice changes nothing. */
export async function revokeToken(sc: ServiceContext, tokenId: string): Promise<void> {
  return auditRefusals(
    sc,
    { action: "api_token.revoke", target: tokenRef(tokenId), orgId: () => orgOfToken(sc, tokenId) },
    async () => {
      const ref = tokenRef(tokenId);
      await authorizeActor(sc, ref, "revoke");
      const [row] = await sc.deps.db
        .select()
        .from(apiTokens)
        .where(eq(apiTokens.id, tokenId))
        .limit(1);
      if (!row) throw new ServiceError("NOT_FOUND", `No API token ${tokenId}.`);
      if (row.revokedAt !== null) return;
      await commit(sc.deps.db, [
        ...revokeTokenStatements(sc, tokenId),
        auditStatement(sc, {
          action: "api_token.revoke",
          target: ref,
          orgId: row.orgId,
          detail: { name: row.name, role: row.role, projectId: row.projectId },
        }),
      ]);
    },
  );
}

async function orgOfToken(sc: ServiceContext, tokenId: string): Promise<string | null> {
  const [row] = await sc.deps.db
    .select({ orgId: apiTokens.orgId })
    .from(apiTokens)
    .where(eq(apiTokens.id, tokenId))
    .limit(1);
  return row?.orgId ?? null;
}
