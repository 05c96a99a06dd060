import { eq } from "drizzle-orm";
import { enrollmentTokens, organizations } from "../../db/schema";
import { newSecret, sha256Hex } from "../../lib/secrets";
import { auditStatement } from "../audit/record";
import { actorId, commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";

export const ENROLLMENT_TOKEN_PREFIX = "strato_enr_";
export const DEFAULT_ENROLLMENT_TTL_MS = 24 * 3_600_000;

export type CreateEnrollmentTokenInput = {
  orgId: string;
  description: string;
  scope: string;
  maxUses: number;
  ttlMs?: number;
};

export type EnrollmentTokenView = {
  id: string;
  orgId: string;
  prefix: string;
  description: string;
  scope: string;
  maxUses: number;
  uses: number;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
};

/** Mints a 256-bit enrollment secret; only its SHA-256 is stored, the secret is returned once. */
export async function createEnrollmentToken(
  sc: ServiceContext,
  input: CreateEnrollmentTokenInput,
): Promise<{ token: EnrollmentTokenView; secret: string }> {
  const { deps } = sc;
  const org = await deps.db.query.organizations.findFirst({
    where: eq(organizations.id, input.orgId),
  });
  if (!org) throw new ServiceError("NOT_FOUND", "No such organization.");
  const secret = newSecret(deps.random, ENROLLMENT_TOKEN_PREFIX);
  const now = deps.clock.now();
  const row = {
    id: deps.ids.next("enrollmentToken"),
    orgId: input.orgId,
    tokenHash: await sha256Hex(secret),
    prefix: secret.slice(0, ENROLLMENT_TOKEN_PREFIX.length + 6),
    description: input.description,
    scope: input.scope,
    maxUses: input.maxUses,
    uses: 0,
    createdBy: actorId(sc.actor),
    createdAt: now,
    expiresAt: now + (input.ttlMs ?? DEFAULT_ENROLLMENT_TTL_MS),
    revokedAt: null,
  };
  await commit(deps.db, [
    deps.db.insert(enrollmentTokens).values(row),
    auditStatement(sc, {
      action: "enrollment_token.create",
      target: { type: "enrollment_token", id: row.id },
      orgId: input.orgId,
      detail: { scope: row.scope, maxUses: row.maxUses, expiresAt: row.expiresAt },
    }),
  ]);
  const { tokenHash: _h, ...view } = row;
  return { token: view, secret };
}
