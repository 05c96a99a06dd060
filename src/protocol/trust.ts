import { z } from "zod";

/** Public half of an Ed25519 key as a JWK (RFC 8037); private members are refused. */
export const publicJwkSchema = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  })
  .strict();
export type PublicJwk = z.infer<typeof publicJwkSchema>;

export const trustKeySchema = z
  .object({
    kid: z.string().min(1).max(128),
    alg: z.literal("EdDSA"),
    jwk: publicJwkSchema,
    /** Seconds since the epoch; the key verifies only inside [not_before, not_after]. */
    not_before: z.number().int().nonnegative(),
    not_after: z.number().int().nonnegative(),
  })
  .refine((k) => k.not_after > k.not_before, { message: "not_after must follow not_before" });
export type TrustKey = z.infer<typeof trustKeySchema>;

/**
 * The set of CP signing keys an agent trusts (design §2.2, §2.8). Versions only rise; a revoked
 * kid stays listed in `revoked_kids` so an older bundle cannot bring it back silently.
 */
export const trustDocumentSchema = z.object({
  version: z.number().int().nonnegative(),
  keys: z.array(trustKeySchema).max(16),
  revoked_kids: z.array(z.string().min(1)).max(256),
});
export type TrustDocument = z.infer<typeof trustDocumentSchema>;

/**
 * What the trust root signs (`typ` strato-trust+jwt): the trust document plus the root's own public
 * key, so a control plane given only the offline-signed bundle can tell agents which root to pin.
 * Agents verify against the root they pinned, never against this member.
 */
export const trustBundlePayloadSchema = trustDocumentSchema.extend({
  root: publicJwkSchema,
  iat: z.number().int().nonnegative(),
});
export type TrustBundlePayload = z.infer<typeof trustBundlePayloadSchema>;
