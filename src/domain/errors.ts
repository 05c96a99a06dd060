import type { FieldError, ProblemCode } from "../http/problem";

/**
 * The closed set of expected failures a domain service may report. Each transport (REST JSON, HTMX
 * fragments, agent protocol) maps these with one exhaustive switch, so a new code fails to compile
 * until every transport handles it.
 */
export type ServiceErrorCode =
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "CONFLICT"
  | "VALIDATION"
  | "LIMIT_EXCEEDED"
  | "PRECONDITION_FAILED";

export class ServiceError extends Error {
  override name = "ServiceError";
  /**
   * `reason` is a more specific stable problem code (e.g. `last_owner` instead of `conflict`) that
   * clients and the UI can branch on; when given, its entry in PROBLEM_CODES sets the status.
   */
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly fields: FieldError[] = [],
    readonly reason?: ProblemCode,
    /** Extra members of the problem document (e.g. `scope` of `no_capacity`). */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(message);
  }
}
