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
