import { and, eq, isNull } from "drizzle-orm";
import { enrollmentTokens } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";

/** Revokes an enrollment token at once; hosts already enrolled with it are unaffected. */
export async function revokeEnrollmentToken(
  sc: ServiceContext,
  orgId: string,
  tokenId: string,
): Promise<void> {
  const { db, clock } = sc.deps;
  const row = await db.query.enrollmentTokens.findFirst({
    where: and(eq(enrollmentTokens.id, tokenId), eq(enrollmentTokens.orgId, orgId)),
  });
  if (!row) throw new ServiceError("NOT_FOUND", "No such enrollment token.");
  if (row.revokedAt !== null) return;
  await commit(db, [
    db
      .update(enrollmentTokens)
      .set({ revokedAt: clock.now() })
      .where(and(eq(enrollmentTokens.id, tokenId), isNull(enrollmentTokens.revokedAt))),
    auditStatement(sc, {
      action: "enrollment_token.revoke",
      target: { type: "enrollment_token", id: tokenId },
      orgId,
    }),
  ]);
}
