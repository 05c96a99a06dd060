import { and, eq, lt } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify } from "jose";
import { agentAccessTokens, agentAssertionJtis, hosts } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import { newSecret, sha256Hex } from "../../lib/secrets";
import {
  AGENT_ASSERTION_TYP,
  ASSERTION_SKEW_S,
  assertionAudience,
  type TokenResponse,
} from "../../protocol/agent-api";
import { commit } from "../context";
import { refuseUnusableHost } from "./authenticate-agent";
import { checkShortLived } from "./short-lived-jws";

export const ACCESS_TOKEN_TTL_S = 900;
export const ACCESS_TOKEN_PREFIX = "strato_agt_";

const invalid = (detail: string) => new ProblemError({ code: "invalid_assertion", detail });

/**
 * RFC 7523 JWT-bearer grant: the agent signs `{iss = sub = host_id, aud, iat, exp ≤ 60 s, jti}`
 * with its key; we answer with a 15 min opaque access token. Each `jti` is accepted once.
 */
export async function issueAccessToken(deps: Deps, assertion: string): Promise<TokenResponse> {
  const now = deps.clock.now();
  let hostId: string;
  try {
    const header = decodeProtectedHeader(assertion);
    if (header.alg !== "EdDSA" || header.typ !== AGENT_ASSERTION_TYP) throw new Error("header");
    const claims = decodeJwt(assertion);
    if (typeof claims.iss !== "string") throw new Error("iss");
    hostId = claims.iss;
  } catch {
    throw invalid("The assertion is not a JWS of type strato-agent+jwt signed with EdDSA.");
  }
  // Only what a token needs: not `status` and `facts`, large JSON every token would parse.
  const host = await deps.db.query.hosts.findFirst({
    columns: {
      id: true,
      state: true,
      publicJwk: true,
      previousPublicJwk: true,
      previousKeyNotAfter: true,
    },
    where: eq(hosts.id, hostId),
  });
  if (!host) throw invalid("Unknown host.");

  // The current key, or the one it replaced while the rotation overlap lasts (rotate-key.ts).
  const keys = [host.publicJwk];
  if (
    host.previousPublicJwk &&
    host.previousKeyNotAfter !== null &&
    now <= host.previousKeyNotAfter
  ) {
    keys.push(host.previousPublicJwk);
  }
  let payload: Record<string, unknown> | undefined;
  let failure: unknown;
  for (const jwk of keys) {
    try {
      ({ payload } = await jwtVerify(assertion, await importJWK(jwk, "EdDSA"), {
        algorithms: ["EdDSA"],
        typ: AGENT_ASSERTION_TYP,
        issuer: host.id,
        subject: host.id,
        audience: assertionAudience(deps.config.agent.issuer),
        requiredClaims: ["iat", "exp", "jti"],
        currentDate: new Date(now),
        clockTolerance: ASSERTION_SKEW_S,
      }));
      break;
    } catch (error) {
      // A claims failure means the signature matched that key: it says more than a mismatch.
      if (failure === undefined || !(error instanceof errors.JWSSignatureVerificationFailed)) {
        failure = error;
      }
    }
  }
  if (payload === undefined) {
    const timing =
      failure instanceof errors.JWTExpired ||
      (failure instanceof errors.JWTClaimValidationFailed &&
        (failure.claim === "nbf" || failure.claim === "iat") &&
        failure.reason === "check_failed");
    if (timing) {
      throw new ProblemError({
        code: "clock_skew",
        detail: "The assertion's times are off; see server_time_ms.",
        extensions: { server_time_ms: now },
      });
    }
    throw invalid("The assertion's signature or claims are invalid.");
  }
  const exp = Number(payload.exp);
  checkShortLived(payload, now, "assertion", invalid);
  const jti = String(payload.jti);
  if (jti.length === 0 || jti.length > 200) throw invalid("Bad jti.");

  refuseUnusableHost(host.state, { allowPending: true });

  // Replay cache: the primary key refuses a second use of the same jti.
  await deps.db.delete(agentAssertionJtis).where(lt(agentAssertionJtis.expiresAt, now));
  const inserted = await deps.db
    .insert(agentAssertionJtis)
    .values({ hostId: host.id, jti, expiresAt: (exp + ASSERTION_SKEW_S) * 1000 })
    .onConflictDoNothing()
    .returning();
  if (inserted.length === 0) {
    throw new ProblemError({ code: "replayed_jti", detail: "This assertion was already used." });
  }

  const secret = newSecret(deps.random, ACCESS_TOKEN_PREFIX);
  await commit(deps.db, [
    deps.db
      .delete(agentAccessTokens)
      .where(and(eq(agentAccessTokens.hostId, host.id), lt(agentAccessTokens.expiresAt, now))),
    deps.db.insert(agentAccessTokens).values({
      tokenHash: await sha256Hex(secret),
      hostId: host.id,
      createdAt: now,
      expiresAt: now + ACCESS_TOKEN_TTL_S * 1000,
    }),
  ]);
  return {
    access_token: secret,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_TTL_S,
    host_id: host.id,
    host_status: host.state === "approved" ? "approved" : "pending",
    server_time_ms: now,
  };
}
