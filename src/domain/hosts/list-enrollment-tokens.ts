import { desc, eq } from "drizzle-orm";
import { enrollmentTokens } from "../../db/schema";
import type { Deps } from "../../deps";
import type { EnrollmentTokenView } from "./create-enrollment-token";

/** Every enrollment token of an organization, newest first (never the secret or its hash). */
export async function listEnrollmentTokens(
  deps: Deps,
  orgId: string,
): Promise<EnrollmentTokenView[]> {
  const rows = await deps.db
    .select()
    .from(enrollmentTokens)
    .where(eq(enrollmentTokens.orgId, orgId))
    .orderBy(desc(enrollmentTokens.createdAt));
  return rows.map(({ tokenHash: _h, ...view }) => view);
}
