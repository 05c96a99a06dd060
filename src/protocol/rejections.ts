/**
 * Stable rejection codes an agent sends in `ack` (design §2.5), shared by both sides so the control
 * plane classifies a rejection itself instead of trusting flags the agent sends. `retry`: the CP
 * offers the item again later (re-signed); `security`: audit + alert, never re-offer.
 */
export const REJECTIONS = {
  /** Oversized, not three segments, undecodable, or claims failing the schema. */
  schema: { retry: false, security: true },
  /** `alg` other than EdDSA (`none`, HS256, RS256, …). */
  alg: { retry: false, security: true },
  /** `jku`, `x5u`, `x5c`, `jwk` or `crit` present: key hints we never follow. */
  bad_header: { retry: false, security: true },
  typ: { retry: false, security: true },
  unknown_kid: { retry: false, security: true },
  revoked_kid: { retry: false, security: true },
  /** The kid is listed but outside its `not_before`..`not_after` window. */
  inactive_kid: { retry: false, security: true },
  bad_signature: { retry: false, security: true },
  wrong_issuer: { retry: false, security: true },
  wrong_audience: { retry: false, security: true },
  expired: { retry: true, security: false },
  not_yet_valid: { retry: true, security: false },
  /** `sub` differs from the item id the claim response named. */
  wrong_item: { retry: false, security: true },
  /** `lease_epoch` differs from the claim response's: a handle from an older claim. */
  stale_epoch: { retry: false, security: false },
  /** Our trust document is older than the one the claim announced; refresh, then retry. */
  stale_trust: { retry: true, security: false },
  /** Same `jti` seen before: a duplicate delivery. */
  replay: { retry: false, security: false },
  /** `idem` already done: re-send the stored result, run nothing. */
  already_done: { retry: false, security: false },
  /** `seq` not above the cursor this claim was made with. */
  out_of_order: { retry: false, security: false },
  /** `gen` not above the last generation applied to `resource.uid`. */
  superseded: { retry: false, security: false },
  /** An item named in `after` has not finished: hold and retry. */
  blocked: { retry: true, security: false },
  /** `start_by` has passed. */
  deadline: { retry: false, security: false },
  /** The op (or its params) is not one this agent runs (design §2.5 step 6). */
  unsupported_op: { retry: false, security: true },
} as const satisfies Record<string, { retry: boolean; security: boolean }>;

export type RejectionReason = keyof typeof REJECTIONS;

export const REJECTION_REASONS = Object.keys(REJECTIONS) as [RejectionReason, ...RejectionReason[]];
