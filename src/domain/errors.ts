import type { FieldError } from "../http/problem";

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
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
  }
}
