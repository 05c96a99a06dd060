import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ServiceError, type ServiceErrorCode } from "../domain/errors";
import type { AppEnv } from "./env";
import { type Problem, type ProblemCode, ProblemError, problemResponse } from "./problem";

/** The REST mapping of domain error codes. */
function problemCodeFor(code: ServiceErrorCode): ProblemCode {
  switch (code) {
    case "NOT_FOUND":
      return "not_found";
    case "FORBIDDEN":
      return "forbidden";
    case "UNAUTHENTICATED":
      return "unauthenticated";
    case "CONFLICT":
      return "conflict";
    case "VALIDATION":
      return "validation_failed";
    case "LIMIT_EXCEEDED":
      return "rate_limited";
    case "PRECONDITION_FAILED":
      return "precondition_failed";
  }
}

/** Hono raises HTTPException from its own middleware (validators, body limit); give those codes. */
function problemForHttpException(err: HTTPException): Problem {
  switch (err.status) {
    case 400:
      return /json/i.test(err.message)
        ? { code: "malformed_json", detail: "The request body is not valid JSON." }
        : { code: "bad_request", detail: err.message || "The request could not be understood." };
    case 413:
      return { code: "payload_too_large", detail: "The request body is too large." };
    case 415:
      return { code: "unsupported_media_type", detail: err.message };
    case 401:
      return { code: "unauthenticated", detail: err.message || "Sign in or send a valid token." };
    default:
      return { code: "internal_error", detail: "Something went wrong on our side." };
  }
}

/**
 * The single error handler. Expected errors become their problem document; anything else is logged
 * with its stack and answered with a generic 500 that leaks nothing.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ProblemError) return problemResponse(c, err.problem);
  if (err instanceof ServiceError) {
    return problemResponse(c, {
      code: problemCodeFor(err.code),
      detail: err.message,
      ...(err.fields.length > 0 ? { errors: err.fields } : {}),
    });
  }
  if (err instanceof HTTPException && err.status < 500) {
    return problemResponse(c, problemForHttpException(err));
  }
  c.var.deps.log.error("unhandled error", {
    requestId: c.var.requestId,
    method: c.req.method,
    path: c.req.path,
    error: err.name,
    detail: err.message,
    stack: err.stack,
  });
  return problemResponse(c, {
    code: "internal_error",
    detail: `Something went wrong on our side. Quote request id ${c.var.requestId} when reporting it.`,
  });
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(c, {
    code: "not_found",
    detail: `No route matches ${c.req.method} ${c.req.path}.`,
  });
