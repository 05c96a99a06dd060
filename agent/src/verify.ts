import { decodeProtectedHeader, errors, importJWK, type JWTPayload, jwtVerify } from "jose";
import {
  CLOCK_SKEW_TOLERANCE_S,
  MAX_TOKEN_AGE_S,
  MAX_TOKEN_BYTES,
  WORK_ITEM_ALG,
  WORK_ITEM_TYP,
} from "../../src/protocol/limits";
import type { TrustDocument, TrustKey } from "../../src/protocol/trust";
import { type WorkItemClaims, workItemClaimsSchema } from "../../src/protocol/work-item";
import type { ExecutionState, ReplayJournal } from "./journal";
import { type Rejection, type RejectionReason, reject } from "./reasons";

export type VerifyContext = {
  /** This host's id; `aud` must equal it exactly. */
  hostId: string;
  /** The control plane's issuer URL, pinned at enrollment. */
  issuer: string;
  /** The server-corrected clock (design §2.10), in epoch milliseconds. */
  clock: { now(): number };
  /** The current, already root-verified trust document. */
  trust: TrustDocument;
  /** Fetches a newer trust document; tried once on an unknown kid. Cooldown is its own job. */
  refreshTrust?: () => Promise<TrustDocument | undefined>;
  journal: ReplayJournal;
  state: ExecutionState;
  /** What the claim response that delivered this token said (design §2.5 step 4). */
  claim: { cursor: number; trustVersion: number; leaseEpoch?: number; itemId?: string };
};

export type VerifyResult = { ok: true; item: WorkItemClaims; kid: string } | Rejection;

const FORBIDDEN_HEADERS = ["jku", "x5u", "x5c", "jwk", "crit"] as const;
// The signature segment may be empty so that `alg: none` is reported as `alg`, not `schema`.
const SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Every check of design §2.5 steps 1–5, in order, stopping at the first failure. Nothing is
 * executed here; on success the `jti` is recorded so the same token cannot pass twice.
 */
export async function verifyWorkItem(token: string, ctx: VerifyContext): Promise<VerifyResult> {
  // 1. Size before any parsing: a flood of huge tokens must stay cheap.
  if (token.length > MAX_TOKEN_BYTES || new TextEncoder().encode(token).length > MAX_TOKEN_BYTES) {
    return reject("schema");
  }
  const segments = token.split(".");
  if (
    segments.length !== 3 ||
    !segments.every((s) => SEGMENT.test(s)) ||
    !segments[0] ||
    !segments[1]
  )
    return reject("schema");

  // 2. Protected header, without trusting anything it says about keys.
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return reject("schema");
  }
  if (header.alg !== WORK_ITEM_ALG) return reject("alg");
  if (FORBIDDEN_HEADERS.some((name) => name in header)) return reject("bad_header");
  if (header.typ !== WORK_ITEM_TYP) return reject("typ");
  if (typeof header.kid !== "string") return reject("unknown_kid");
  const found = await findKey(header.kid, ctx);
  if (!found.ok) return found;
  const { key, trust } = found;

  // 3. Signature, audience, issuer and times, all by jose on the corrected clock.
  let payload: JWTPayload;
  try {
    const publicKey = await importJWK(key.jwk, WORK_ITEM_ALG);
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: [WORK_ITEM_ALG],
      typ: WORK_ITEM_TYP,
      issuer: ctx.issuer,
      audience: ctx.hostId,
      clockTolerance: CLOCK_SKEW_TOLERANCE_S,
      maxTokenAge: MAX_TOKEN_AGE_S,
      currentDate: new Date(ctx.clock.now()),
      requiredClaims: ["jti", "exp", "iat", "nbf", "sub"],
    }));
  } catch (error) {
    return reject(joseReason(error));
  }
  // jose accepts an array `aud`; an item must name exactly one host.
  if (payload.aud !== ctx.hostId) return reject("wrong_audience");
  const parsed = workItemClaimsSchema.safeParse(payload);
  if (!parsed.success) return reject("schema");
  const item = parsed.data;

  // 4. Binding to the claim response that delivered it.
  if (ctx.claim.itemId !== undefined && item.sub !== ctx.claim.itemId) return reject("wrong_item");
  if (ctx.claim.leaseEpoch !== undefined && item.lease_epoch !== ctx.claim.leaseEpoch) {
    return reject("stale_epoch");
  }
  if (trust.version < ctx.claim.trustVersion) return reject("stale_trust");

  // 5. Replay and order.
  const ordered = await checkOrder(item, ctx);
  if (ordered !== undefined) return reject(ordered);
  // Test-and-set last, so a concurrent duplicate of this token loses here.
  if (!(await ctx.journal.remember(item.jti, item.exp))) return reject("replay");
  return { ok: true, item, kid: key.kid };
}

type KeyLookup = { ok: true; key: TrustKey; trust: TrustDocument } | Rejection;

/** Design §2.5 step 2 and §2.8: revoked wins over listed; one refresh on an unknown kid. */
async function findKey(kid: string, ctx: VerifyContext): Promise<KeyLookup> {
  let trust = ctx.trust;
  let key = trust.keys.find((k) => k.kid === kid);
  if (key === undefined && !trust.revoked_kids.includes(kid) && ctx.refreshTrust !== undefined) {
    const fresh = await ctx.refreshTrust();
    // Never roll back to an older document (design §2.8).
    if (fresh !== undefined && fresh.version > trust.version) trust = fresh;
    key = trust.keys.find((k) => k.kid === kid);
  }
  if (trust.revoked_kids.includes(kid)) return reject("revoked_kid");
  if (key === undefined) return reject("unknown_kid");
  const nowS = ctx.clock.now() / 1000;
  if (nowS + CLOCK_SKEW_TOLERANCE_S < key.not_before) return reject("inactive_kid");
  if (nowS - CLOCK_SKEW_TOLERANCE_S > key.not_after) return reject("inactive_kid");
  return { ok: true, key, trust };
}

async function checkOrder(
  item: WorkItemClaims,
  ctx: VerifyContext,
): Promise<RejectionReason | undefined> {
  if (await ctx.journal.has(item.jti)) return "replay";
  if (await ctx.state.isDone(item.idem)) return "already_done";
  if (item.seq <= ctx.claim.cursor) return "out_of_order";
  const applied = await ctx.state.appliedGeneration(item.resource.uid);
  if (applied !== undefined && item.gen <= applied) return "superseded";
  // Deadline before `after`: a held item whose start_by passes must end, not wait forever. One
  // that started here already (its lease lapsed while this agent was down) is resumed: refusing
  // it would report work that ran as never started.
  const late = ctx.clock.now() / 1000 - CLOCK_SKEW_TOLERANCE_S > item.start_by;
  if (late && !(await ctx.state.hasStarted(item.idem))) return "deadline";
  for (const dep of item.after) if (!(await ctx.state.isFinished(dep))) return "blocked";
  return undefined;
}

function joseReason(error: unknown): RejectionReason {
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return "schema";
    if (error.claim === "aud") return "wrong_audience";
    if (error.claim === "iss") return "wrong_issuer";
    if (error.claim === "typ") return "typ";
    if (error.claim === "nbf" || error.claim === "iat") return "not_yet_valid";
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "alg";
  return "schema";
}
