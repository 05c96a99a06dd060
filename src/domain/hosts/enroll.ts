import { and, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import { calculateJwkThumbprint, importJWK, jwtVerify } from "jose";
import { authzTuples, enrollmentTokens, hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import { sha256Hex } from "../../lib/secrets";
import {
  ASSERTION_SKEW_S,
  ENROLL_PROOF_TYP,
  type EnrollRequest,
  type EnrollResponse,
} from "../../protocol/agent-api";
import { commit } from "../context";
import { isUniqueViolation } from "../orgs/shared";
import { abortUnlessChanged, isStaleWrite } from "../write-guard";
import { hostAuditStatement } from "./host-audit";
import { checkShortLived } from "./short-lived-jws";

const alreadyEnrolled = () =>
  new ProblemError({
    code: "conflict",
    detail: "This key is already enrolled; generate a new key to enroll again.",
  });

const invalidToken = () =>
  new ProblemError({
    code: "invalid_enrollment_token",
    detail: "The enrollment token is unknown, revoked, expired or used up.",
  });

/**
 * Registers a new host identity as `pending` (design §2.2, §2.8). The agent proves it holds the
 * private key by signing `{tok: sha256(token), jkt: thumbprint}`. A machine id already known in
 * the organization never moves that identity: the new row is pending and names the host it would
 * replace; the old host keeps working until an operator decides.
 */
export async function enroll(
  deps: Deps,
  input: EnrollRequest,
  requestId: string,
): Promise<EnrollResponse> {
  // Without a trust root the agent would have nothing to pin: refuse before a token is used up.
  const trustRoot = deps.signer?.trustRoot;
  if (trustRoot === undefined) {
    throw new ProblemError({
      code: "not_ready",
      detail: "Work-item signing is not configured; the operator can find the reason in the logs.",
    });
  }
  const now = deps.clock.now();
  const tokenHash = await sha256Hex(input.token);
  const thumbprint = await calculateJwkThumbprint(input.public_jwk, "sha256");
  await verifyProof(input, tokenHash, thumbprint, now);
  const rootKid = await calculateJwkThumbprint(trustRoot, "sha256");
  if (input.trust_root_kid !== undefined && input.trust_root_kid !== rootKid) {
    // The agent expects another control plane (or a root from before a re-install): nothing is
    // recorded and the token keeps its use.
    throw new ProblemError({
      code: "trust_root_mismatch",
      detail: "This control plane's trust root is not the one the agent was configured to expect.",
      extensions: { trust_root_kid: rootKid },
    });
  }

  const known = await deps.db.query.hosts.findFirst({ where: eq(hosts.keyThumbprint, thumbprint) });
  if (known) throw alreadyEnrolled();

  const usable = and(
    isNull(enrollmentTokens.revokedAt),
    gt(enrollmentTokens.expiresAt, now),
    lt(enrollmentTokens.uses, enrollmentTokens.maxUses),
  );
  const token = await deps.db.query.enrollmentTokens.findFirst({
    where: and(eq(enrollmentTokens.tokenHash, tokenHash), usable),
  });
  if (!token) throw invalidToken();

  const previous = await deps.db.query.hosts.findFirst({
    where: and(
      eq(hosts.orgId, token.orgId),
      eq(hosts.machineId, input.facts.machine_id),
      inArray(hosts.state, ["approved", "disabled", "pending"]),
    ),
    orderBy: (h, { desc }) => [desc(h.createdAt)],
  });
  const hostId = deps.ids.next("host");
  // A second pending re-enrollment replaces what the first one would have replaced.
  const replaces = previous
    ? previous.state === "pending"
      ? previous.replacesHostId
      : previous.id
    : null;
  // One batch: the token's use (guarded, so concurrent enrollments cannot exceed max_uses) and
  // the host, or neither; a host that could not be written does not use up the token.
  const statements = [
    deps.db
      .update(enrollmentTokens)
      .set({ uses: sql`${enrollmentTokens.uses} + 1` })
      .where(and(eq(enrollmentTokens.id, token.id), usable)),
    abortUnlessChanged(deps.db),
    deps.db.insert(hosts).values({
      id: hostId,
      orgId: token.orgId,
      name: input.facts.hostname,
      machineId: input.facts.machine_id,
      scope: token.scope,
      state: "pending",
      publicJwk: input.public_jwk,
      keyThumbprint: thumbprint,
      facts: input.facts,
      enrollmentTokenId: token.id,
      replacesHostId: replaces,
      createdAt: now,
      updatedAt: now,
    }),
    deps.db.insert(authzTuples).values({
      entityType: "host",
      entityId: hostId,
      relation: "org",
      subjectType: "organization",
      subjectId: token.orgId,
      subjectRelation: "",
      createdAt: now,
    }),
    // A pending re-enrollment this one supersedes is rejected with it: only the newest can be
    // approved, so one machine never ends with two approved identities.
    ...(previous?.state === "pending"
      ? [
          deps.db
            .update(hosts)
            .set({ state: "rejected", decidedBy: "system", decidedAt: now, updatedAt: now })
            .where(and(eq(hosts.id, previous.id), eq(hosts.state, "pending"))),
          hostAuditStatement(deps, {
            hostId,
            orgId: token.orgId,
            requestId,
            action: "host.reject",
            target: { type: "host", id: previous.id },
            detail: { from: "pending", to: "rejected", supersededBy: hostId },
          }),
        ]
      : []),
    hostAuditStatement(deps, {
      hostId,
      orgId: token.orgId,
      requestId,
      action: previous ? "host.reenroll" : "host.enroll",
      target: { type: "host", id: hostId },
      detail: {
        enrollmentTokenId: token.id,
        machineId: input.facts.machine_id,
        hostname: input.facts.hostname,
        ...(previous ? { existingHostId: previous.id } : {}),
      },
    }),
  ];
  try {
    await commit(deps.db, statements);
  } catch (error) {
    // Used up (or revoked) meanwhile by another enrollment.
    if (isStaleWrite(error)) throw invalidToken();
    // The same key enrolled by a concurrent request.
    if (isUniqueViolation(error)) throw alreadyEnrolled();
    throw error;
  }
  if (previous) {
    deps.log.warn("host re-enrollment pending approval", {
      hostId,
      existingHostId: previous.id,
      machineId: input.facts.machine_id,
    });
  }
  return {
    host_id: hostId,
    status: "pending",
    issuer: deps.config.agent.issuer,
    replaces_host_id: replaces,
    trust_root: trustRoot,
    server_time_ms: now,
  };
}

async function verifyProof(
  input: EnrollRequest,
  tokenHash: string,
  thumbprint: string,
  now: number,
): Promise<void> {
  const bad = (detail: string) => new ProblemError({ code: "invalid_assertion", detail });
  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(input.public_jwk, "EdDSA");
    ({ payload } = await jwtVerify(input.proof, key, {
      algorithms: ["EdDSA"],
      typ: ENROLL_PROOF_TYP,
      currentDate: new Date(now),
      clockTolerance: ASSERTION_SKEW_S,
      requiredClaims: ["iat", "exp", "jti"],
    }));
  } catch {
    throw bad("The proof of possession is not a valid JWS by the enrolled key.");
  }
  checkShortLived(payload, now, "proof", bad);
  if (payload.tok !== tokenHash || payload.jkt !== thumbprint) {
    throw bad("The proof is not bound to this token and key.");
  }
}
