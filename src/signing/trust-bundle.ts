import {
  CompactSign,
  type CryptoKey,
  calculateJwkThumbprint,
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
} from "jose";
import { TRUST_TYP, WORK_ITEM_ALG } from "../protocol/limits";
import {
  type PublicJwk,
  publicJwkSchema,
  type TrustBundlePayload,
  type TrustDocument,
  trustBundlePayloadSchema,
  trustDocumentSchema,
} from "../protocol/trust";
import { SigningKeyError } from "./signer";

/** A trust root able to sign: its private key and the public half agents pin. */
export type TrustRootKey = { privateKey: CryptoKey; publicJwk: PublicJwk };

/**
 * Signs `document` with the trust root (design §2.2): a compact JWS `{alg:"EdDSA",
 * typ:"strato-trust+jwt", kid}` whose `kid` is the root's RFC 7638 thumbprint.
 */
export async function signTrustBundle(
  document: TrustDocument,
  root: TrustRootKey,
  nowS: number,
): Promise<string> {
  const payload: TrustBundlePayload = {
    ...trustDocumentSchema.parse(document),
    root: root.publicJwk,
    iat: nowS,
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({
      alg: WORK_ITEM_ALG,
      typ: TRUST_TYP,
      kid: await calculateJwkThumbprint(root.publicJwk, "sha256"),
    })
    .sign(root.privateKey);
}

/**
 * Reads a bundle signed offline (STRATO_TRUST_BUNDLE): it must verify under the root it names.
 * That proves only that it is intact; agents check it against the root they pinned
 * (`agent/src/trust-bundle.ts`).
 */
export async function openTrustBundle(
  bundle: string,
): Promise<{ document: TrustDocument; root: PublicJwk }> {
  const token = bundle.trim();
  let named: unknown;
  let typ: unknown;
  try {
    named = decodeJwt(token).root;
    typ = decodeProtectedHeader(token).typ;
  } catch {
    throw new SigningKeyError("trust bundle: not a compact JWS with a JSON payload");
  }
  if (typ !== TRUST_TYP) throw new SigningKeyError(`trust bundle: typ must be ${TRUST_TYP}`);
  const root = publicJwkSchema.safeParse(named);
  if (!root.success) throw new SigningKeyError("trust bundle: payload names no Ed25519 root key");
  let payload: Uint8Array;
  try {
    const key = await importJWK(root.data, WORK_ITEM_ALG);
    ({ payload } = await compactVerify(token, key, { algorithms: [WORK_ITEM_ALG] }));
  } catch {
    throw new SigningKeyError("trust bundle: signature does not verify under the root it names");
  }
  const parsed = trustBundlePayloadSchema.safeParse(JSON.parse(new TextDecoder().decode(payload)));
  if (!parsed.success) throw new SigningKeyError("trust bundle: payload is not a trust document");
  const { root: _root, iat: _iat, ...document } = parsed.data;
  return { document, root: root.data };
}
