import type { PublicJwk, TrustDocument } from "../protocol/trust";
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
   * `not_after` (rotation overlap). What `trustBundle` carries, for version and ETag.
   */
  trustDocument(): TrustDocument;
  /** The trust document signed by the trust root: a compact JWS (`typ` strato-trust+jwt). */
  trustBundle(): string;
  /** Public half of the trust root; agents pin it at enrollment. */
  readonly trustRoot: PublicJwk;
}

/** Thrown for unusable key secrets; the message never contains key material. */
export class SigningKeyError extends Error {
  override readonly name: string = "SigningKeyError";
}

/**
 * The configured trust bundle cannot serve the active key (not listed, or revoked): agents would
 * refuse every item, so the control plane serves no work until the operator fixes it.
 */
export class TrustNotReadyError extends SigningKeyError {
  override readonly name = "TrustNotReadyError";
}
