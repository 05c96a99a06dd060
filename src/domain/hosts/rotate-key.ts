import { and, eq, or } from "drizzle-orm";
import { calculateJwkThumbprint, importJWK, jwtVerify } from "jose";
import { hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import {
  ASSERTION_SKEW_S,
  KEY_ROTATION_PROOF_TYP,
  type KeyRotationRequest,
  type KeyRotationResponse,
} from "../../protocol/agent-api";
import { auditIfChangedStatement } from "../audit/record";
import type { ServiceContext } from "../context";
import { isUniqueViolation } from "../orgs/shared";
import type { AgentHost } from "./authenticate-agent";
import { checkShortLived } from "./short-lived-jws";

const keyInUse = () =>
  new ProblemError({ code: "conflict", detail: "This key is already in use; make a new one." });

const invalidProof = (detail: string) =>
  new ProblemError({
    code: "validation_failed",
    detail,
    errors: [{ in: "body", field: "proof", code: "invalid_value", message: detail }],
  });

/**
 * Design §2.8: the agent replaces its key without enrolling again. The request is authenticated
 * with the current key (its access token), the new key proves possession and names the key it
 * replaces. The old key keeps signing token assertions for `keyOverlapMs`, so an agent that lost
 * this answer can still get in and retry; sending the same new key again answers the same.
 */
export async function rotateAgentKey(
  deps: Deps,
  host: AgentHost,
  input: KeyRotationRequest,
  requestId: string,
): Promise<KeyRotationResponse> {
  const now = deps.clock.now();
  const thumbprint = await calculateJwkThumbprint(input.public_jwk, "sha256");
  const answer = (notAfter: number | null): KeyRotationResponse => ({
    host_id: host.id,
    key_thumbprint: thumbprint,
    previous_key_not_after: notAfter,
  });
  if (thumbprint === host.keyThumbprint) return answer(host.previousKeyNotAfter);

  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(input.public_jwk, "EdDSA");
    ({ payload } = await jwtVerify(input.proof, key, {
      algorithms: ["EdDSA"],
      typ: KEY_ROTATION_PROOF_TYP,
      subject: host.id,
      currentDate: new Date(now),
      clockTolerance: ASSERTION_SKEW_S,
      requiredClaims: ["iat", "exp", "jti", "sub"],
    }));
  } catch {
    throw invalidProof("The proof is not a valid strato-agent-key+jwt JWS by the new key.");
  }
  checkShortLived(payload, now, "proof", invalidProof);
  if (payload.jkt !== thumbprint || payload.prev !== host.keyThumbprint) {
    throw invalidProof("The proof is not bound to this new key and the host's current key.");
  }

  const taken = await deps.db.query.hosts.findFirst({
    where: or(eq(hosts.keyThumbprint, thumbprint), eq(hosts.previousKeyThumbprint, thumbprint)),
  });
  if (taken) throw keyInUse();

  const notAfter = now + deps.config.agent.keyOverlapMs;
  const sc: ServiceContext = { deps, actor: { kind: "host", hostId: host.id }, requestId };
  let changed: { id: string }[];
  try {
    [changed] = await deps.db.batch([
      deps.db
        .update(hosts)
        .set({
          publicJwk: input.public_jwk,
          keyThumbprint: thumbprint,
          previousPublicJwk: host.publicJwk,
          previousKeyThumbprint: host.keyThumbprint,
          previousKeyNotAfter: notAfter,
          updatedAt: now,
        })
        // Two rotations at once: only the one that still replaces the current key wins.
        .where(and(eq(hosts.id, host.id), eq(hosts.keyThumbprint, host.keyThumbprint)))
        .returning({ id: hosts.id }),
      auditIfChangedStatement(sc, {
        action: "host.key_rotated",
        target: { type: "host", id: host.id },
        orgId: host.orgId,
        detail: { from: host.keyThumbprint, to: thumbprint, previous_key_not_after: notAfter },
      }),
    ]);
  } catch (error) {
    // Another host took the same key between the check above and this write.
    if (isUniqueViolation(error)) throw keyInUse();
    throw error;
  }
  if (changed.length === 0) {
    throw new ProblemError({
      code: "conflict",
      detail: "The host's key changed meanwhile; authenticate again and retry.",
    });
  }
  return answer(notAfter);
}
