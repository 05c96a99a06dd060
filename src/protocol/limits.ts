/** Protocol constants shared by the control plane and the agent (design §2.4, §2.5, §2.10). */

/** `typ` header of a signed work item; anything else is refused as a work item (RFC 8725 §3.11). */
export const WORK_ITEM_TYP = "strato-work+jwt";
/** `typ` header of the root-signed trust document, so it can never pass as a work item. */
export const TRUST_TYP = "strato-trust+jwt";

/** The only JWS algorithm accepted for work items: Ed25519 under its RFC 8037 name. */
export const WORK_ITEM_ALG = "EdDSA";

/** Largest compact JWS the agent will even parse (design §2.4: 256 KiB). */
export const MAX_TOKEN_BYTES = 256 * 1024;

/** `exp - iat` may not exceed this: items bound acceptance, not execution (design §2.4: 5 min). */
export const ACCEPT_WINDOW_S = 300;
/** Tolerance applied to `exp`, `nbf`, `iat` and `start_by` on the corrected clock (design §2.10). */
export const CLOCK_SKEW_TOLERANCE_S = 30;
/** An item whose `iat` is older than this is refused even if `exp` says otherwise (design §2.5). */
export const MAX_TOKEN_AGE_S = 600;
/** The agent remembers a `jti` this long after its `exp` (design §2.7). */
export const JTI_RETENTION_AFTER_EXP_S = 60;
