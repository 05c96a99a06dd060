import { calculateJwkThumbprint, SignJWT } from "jose";
import { MAX_TOKEN_BYTES, WORK_ITEM_ALG, WORK_ITEM_TYP } from "../protocol/limits";
import type { PublicJwk, TrustDocument, TrustKey } from "../protocol/trust";
import { type WorkItemClaims, workItemClaimsSchema } from "../protocol/work-item";
import { type LoadedKey, loadKeySecret } from "./key-secret";
import { type Signer, SigningKeyError, TrustNotReadyError } from "./signer";
import { openTrustBundle, signTrustBundle } from "./trust-bundle";

/** One key as configured: the secret string plus its validity window in epoch seconds. */
export type KeySecretSpec = { secret: string; notBefore: number; notAfter: number };

export type LocalSignerOptions = {
  /** The key that signs from now on (with a bundle, the bundle's window for it counts). */
  active: KeySecretSpec;
  /** Older keys still listed for verification until their `notAfter`; public-only JWKs suffice. */
  previous?: readonly KeySecretSpec[];
  /** Kids agents must refuse even if still inside their window (emergency revocation). */
  revokedKids?: readonly string[];
  /** Trust document version; bump it whenever the key list changes. */
  trustVersion: number;
  /**
   * Who signs the trust document: the root key itself (a secret string, like the signing key; the
   * signer builds and signs the document from the keys above) or a bundle signed offline, which
   * replaces `previous`, `revokedKids` and `trustVersion`.
   */
  trust: { rootKey: string } | { bundle: string };
  /** Epoch seconds for the bundle's `iat`. */
  nowS?: number;
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
  const { trust, bundle, root } = await trustFor(options, active);

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
    trustBundle: () => bundle,
    trustRoot: root,
  };
}

type SignedTrust = { trust: TrustDocument; bundle: string; root: PublicJwk };

/** The active key, previous keys and revocations as configured: what the root key signs. */
async function builtDocument(
  options: LocalSignerOptions,
  active: LoadedKey,
): Promise<TrustDocument> {
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
  return { version: options.trustVersion, keys, revoked_kids: revoked };
}

async function trustFor(options: LocalSignerOptions, active: LoadedKey): Promise<SignedTrust> {
  const activeKid = active.kid;
  if ("bundle" in options.trust) {
    const { document, root } = await openTrustBundle(options.trust.bundle);
    if ((await calculateJwkThumbprint(root, "sha256")) === activeKid) {
      throw new SigningKeyError("trust bundle: signed by the signing key, not by a separate root");
    }
    if (
      !document.keys.some((k) => k.kid === activeKid) ||
      document.revoked_kids.includes(activeKid)
    ) {
      throw new TrustNotReadyError(
        `trust bundle version ${document.version} does not list the active signing key ${activeKid} (or revokes it): sign a new bundle with it`,
      );
    }
    return { trust: document, bundle: options.trust.bundle.trim(), root };
  }
  const rootKey = await loadKeySecret(options.trust.rootKey, "trust root key");
  if (rootKey.privateKey === undefined) {
    throw new SigningKeyError("trust root key: secret holds no private key");
  }
  if (rootKey.kid === activeKid) {
    throw new SigningKeyError("trust root key: must not be the signing key");
  }
  const built = await builtDocument(options, active);
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  const root = { privateKey: rootKey.privateKey, publicJwk: rootKey.publicJwk };
  return {
    trust: built,
    bundle: await signTrustBundle(built, root, nowS),
    root: rootKey.publicJwk,
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
