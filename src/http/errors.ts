import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ServiceError, type ServiceErrorCode } from "../domain/errors";
import type { AppEnv } from "./env";
import {
  PROBLEM_CODES,
  type Problem,
  type ProblemCode,
  ProblemError,
  problemResponse,
} from "./problem";

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

/**
 * Hono raises HTTPException from its own middleware (JSON validator, body limit, auth helpers):
 * keep its status and give it the code that status has in our table.
 */
function problemForHttpException(err: HTTPException): Problem {
  if (err.status === 400 && /json/i.test(err.message)) {
    return { code: "malformed_json", detail: "The request body is not valid JSON." };
  }
  const entry = Object.entries(PROBLEM_CODES).find(([, p]) => p.status === err.status);
  const code = (entry?.[0] ?? "bad_request") as ProblemCode;
  return { code, detail: err.message || PROBLEM_CODES[code].title };
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
