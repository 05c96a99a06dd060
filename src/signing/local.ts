import { SignJWT } from "jose";
import { MAX_TOKEN_BYTES, WORK_ITEM_ALG, WORK_ITEM_TYP } from "../protocol/limits";
import type { TrustDocument, TrustKey } from "../protocol/trust";
import { type WorkItemClaims, workItemClaimsSchema } from "../protocol/work-item";
import { type LoadedKey, loadKeySecret } from "./key-secret";
import { type Signer, SigningKeyError } from "./signer";

/** One key as configured: the secret string plus its validity window in epoch seconds. */
export type KeySecretSpec = { secret: string; notBefore: number; notAfter: number };

export type LocalSignerOptions = {
  /** The key that signs from now on. */
  active: KeySecretSpec;
  /** Older keys still listed for verification until their `notAfter`; public-only JWKs suffice. */
  previous?: readonly KeySecretSpec[];
  /** Kids agents must refuse even if still inside their window (emergency revocation). */
  revokedKids?: readonly string[];
  /** Trust document version; bump it whenever the key list changes. */
  trustVersion: number;
};

/**
 * A signer holding the key in process memory, loaded from a Worker secret (never from the DB).
 * Good enough until the separate signer Worker exists; it implements the same seam.
 */
export async function createLocalSigner(options: LocalSignerOptions): Promise<Signer> {
  const active = await loadKeySecret(options.active.secret, "active signing key");
  const { privateKey } = active;
  if (privateKey === undefined) {
    throw new SigningKeyError("active signing key: secret holds no private key");
  }
  const previous = await Promise.all(
    (options.previous ?? []).map(async (spec, i) => ({
      spec,
      key: await loadKeySecret(spec.secret, `previous signing key #${i + 1}`),
    })),
  );
  const revoked = [...(options.revokedKids ?? [])];
  if (revoked.includes(active.kid)) throw new SigningKeyError("active signing key is revoked");
  const keys = [
    trustKey(active, options.active),
    ...previous
      .filter(({ key }) => key.kid !== active.kid)
      .map(({ key, spec }) => trustKey(key, spec)),
  ];
  const trust: TrustDocument = { version: options.trustVersion, keys, revoked_kids: revoked };

  return {
    keyId: active.kid,
    async sign(claims: WorkItemClaims) {
      const checked = workItemClaimsSchema.parse(claims);
      const token = await new SignJWT(checked)
        .setProtectedHeader({ alg: WORK_ITEM_ALG, typ: WORK_ITEM_TYP, kid: active.kid })
        .sign(privateKey);
      // The agent refuses larger tokens; failing here keeps the error on the CP side.
      if (token.length > MAX_TOKEN_BYTES)
        throw new RangeError("signed work item exceeds size limit");
      return token;
    },
    trustDocument: () => structuredClone(trust),
  };
}

function trustKey(key: LoadedKey, spec: KeySecretSpec): TrustKey {
  if (spec.notAfter <= spec.notBefore) {
    throw new SigningKeyError(`key ${key.kid}: notAfter must follow notBefore`);
  }
  return {
    kid: key.kid,
    alg: WORK_ITEM_ALG,
    jwk: key.publicJwk,
    not_before: spec.notBefore,
    not_after: spec.notAfter,
  };
}
