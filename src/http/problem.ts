import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Ctx } from "./env";

/**
 * One invalid input: which part of the request (`in`), where in it (`field`, a dotted path; empty
 * for the part as a whole) and why (`code` is stable, `message` is for people).
 */
export type FieldError = {
  in: "body" | "query" | "path" | "header" | "form";
  field: string;
  code: string;
  message: string;
};

/**
 * Stable machine-readable codes of every error the HTTP API returns. Clients branch on these,
 * never on `detail`, so they must not change meaning once published.
 */
export const PROBLEM_CODES = {
  validation_failed: { status: 422, title: "Validation failed" },
  malformed_json: { status: 400, title: "Malformed JSON" },
  bad_request: { status: 400, title: "Bad request" },
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  precondition_failed: { status: 412, title: "Precondition failed" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal_error: { status: 500, title: "Internal server error" },
  not_ready: { status: 503, title: "Service not ready" },
  pending_approval: { status: 403, title: "Host pending approval" },
  host_rejected: { status: 403, title: "Host rejected" },
  host_disabled: { status: 403, title: "Host disabled" },
  host_revoked: { status: 403, title: "Host revoked" },
  invalid_enrollment_token: { status: 401, title: "Invalid enrollment token" },
  invalid_assertion: { status: 401, title: "Invalid assertion" },
  clock_skew: { status: 401, title: "Clock skew" },
  replayed_jti: { status: 401, title: "Replayed assertion" },
  stale_epoch: { status: 409, title: "Stale lease epoch" },
  idempotency_in_flight: { status: 409, title: "Request with this Idempotency-Key in flight" },
  item_cancelled: { status: 410, title: "Work item cancelled" },
  idempotency_mismatch: { status: 422, title: "Idempotency-Key reused with another request" },
  upgrade_required: { status: 426, title: "WebSocket upgrade required" },
  session_conflict: { status: 409, title: "Another boot of this host is connected" },
  trust_root_mismatch: { status: 409, title: "Not the trust root the agent expects" },
  // Specific codes come after the generic ones: the first code listed with a status is the one
  // used for that status when nothing more specific is known (e.g. Hono's own HTTPExceptions).
  token_invalid: { status: 401, title: "Invalid API token" },
  token_revoked: { status: 401, title: "API token revoked" },
  token_expired: { status: 401, title: "API token expired" },
  webauthn_failed: { status: 400, title: "Passkey verification failed" },
  challenge_invalid: { status: 400, title: "Passkey challenge expired or already used" },
  setup_code_invalid: { status: 403, title: "Set-up code not valid" },
  signup_closed: { status: 403, title: "Sign-up requires an invitation" },
  csrf_failed: { status: 403, title: "Cross-site request refused" },
  role_too_high: { status: 403, title: "Role higher than your own" },
  invitation_invalid: { status: 410, title: "Invitation expired or already used" },
  already_set_up: { status: 409, title: "Already set up" },
  email_taken: { status: 409, title: "Email already registered" },
  slug_taken: { status: 409, title: "Name already taken" },
  last_owner: { status: 409, title: "An organization needs an owner" },
  last_passkey: { status: 409, title: "The last passkey cannot be removed" },
  not_empty: { status: 409, title: "Not empty" },
  already_member: { status: 409, title: "Already a member" },
  operation_in_progress: { status: 409, title: "Another operation is in progress" },
  invalid_state: { status: 409, title: "Not possible in the VM's current state" },
  no_capacity: { status: 409, title: "No host has capacity" },
  already_finished: { status: 409, title: "Already finished" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export type Problem = {
  code: ProblemCode;
  detail: string;
  errors?: FieldError[];
  /** Extra members for this problem type (e.g. the failed checks of /readyz). */
  extensions?: Record<string, unknown>;
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Renders an RFC 9457 problem document with our extensions (`code`, `requestId`, `errors`). */
export function problemResponse(c: Ctx, problem: Problem): Response {
  const { status, title } = PROBLEM_CODES[problem.code];
  const body = {
    // A URN: identifies the problem type without pretending to be a page someone must host.
    type: `urn:strato:problem:${problem.code}`,
    title,
    status,
    code: problem.code,
    detail: problem.detail,
    instance: c.req.path,
    requestId: c.var.requestId,
    ...(problem.errors ? { errors: problem.errors } : {}),
    ...problem.extensions,
  };
  return c.body(JSON.stringify(body), status, { "Content-Type": PROBLEM_CONTENT_TYPE });
}

/** Thrown by routes for HTTP-level failures that are not domain errors; `onError` renders it. */
export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}
