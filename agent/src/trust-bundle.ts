import { compactVerify, decodeProtectedHeader, importJWK } from "jose";
import { MAX_TOKEN_BYTES, TRUST_TYP, WORK_ITEM_ALG } from "../../src/protocol/limits";
import {
  type PublicJwk,
  type TrustBundlePayload,
  trustBundlePayloadSchema,
} from "../../src/protocol/trust";

/** Why a trust bundle was refused; the agent logs it as a security event. */
export type TrustBundleProblem = "malformed" | "alg" | "typ" | "bad_header" | "bad_signature";

export type TrustBundleCheck =
  | { ok: true; payload: TrustBundlePayload }
  | { ok: false; problem: TrustBundleProblem };

const FORBIDDEN_HEADERS = ["jku", "x5u", "x5c", "jwk", "crit"] as const;

/**
 * Verifies a trust bundle (compact JWS, `typ` strato-trust+jwt, EdDSA) against `root`, the key the
 * verifier pinned (design §2.2). Header hints about keys are refused, never followed.
 */
export async function verifyTrustBundle(
  token: unknown,
  root: PublicJwk,
): Promise<TrustBundleCheck> {
  if (typeof token !== "string" || token.length > MAX_TOKEN_BYTES) return fail("malformed");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return fail("malformed");
  }
  if (header.alg !== WORK_ITEM_ALG) return fail("alg");
  if (FORBIDDEN_HEADERS.some((name) => name in header)) return fail("bad_header");
  if (header.typ !== TRUST_TYP) return fail("typ");
  let payload: Uint8Array;
  try {
    const key = await importJWK(root, WORK_ITEM_ALG);
    ({ payload } = await compactVerify(token, key, { algorithms: [WORK_ITEM_ALG] }));
  } catch {
    return fail("bad_signature");
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return fail("malformed");
  }
  const parsed = trustBundlePayloadSchema.safeParse(json);
  return parsed.success ? { ok: true, payload: parsed.data } : fail("malformed");
}

function fail(problem: TrustBundleProblem): TrustBundleCheck {
  return { ok: false, problem };
}
