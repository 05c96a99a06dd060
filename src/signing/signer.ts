import type { TrustDocument } from "../protocol/trust";
import type { WorkItemClaims } from "../protocol/work-item";

/**
 * The signing seam (design §2.2). Today a local key from a Worker secret; later a separate signer
 * Worker behind a service binding. Callers never see key material, only tokens and public keys.
 */
export interface Signer {
  /** RFC 7638 thumbprint of the active signing key; put in every token's `kid` header. */
  readonly keyId: string;
  /** Validates the claims, then returns a compact JWS with header `{alg:"EdDSA", typ, kid}`. */
  sign(claims: WorkItemClaims): Promise<string>;
  /**
   * Every key agents should accept now: the active key plus previous keys until their
   * `not_after` (rotation overlap). The offline root signs this document; that step is not here.
   */
  trustDocument(): TrustDocument;
}

/** Thrown for unusable key secrets; the message never contains key material. */
export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}
