import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ServiceError, type ServiceErrorCode } from "../domain/errors";
import { toSignIn } from "../web/console";
import { renderProblemPage } from "../web/render";
import type { AppEnv, Ctx } from "./env";
import { isHtmxRequest } from "./htmx";
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
 * The problem an expected error stands for (domain errors through the REST mapping above). Anything
 * unexpected is a generic internal error: its message never reaches the client.
 */
export function problemFor(err: unknown, requestId = ""): Problem {
  if (err instanceof ProblemError) return err.problem;
  if (err instanceof ServiceError) {
    return {
      code: err.reason ?? problemCodeFor(err.code),
      detail: err.message,
      ...(err.fields.length > 0 ? { errors: err.fields } : {}),
      ...(err.extensions ? { extensions: err.extensions } : {}),
    };
  }
  if (err instanceof HTTPException && err.status < 500) return problemForHttpException(err);
  return {
    code: "internal_error",
    detail: `Something went wrong on our side. Quote request id ${requestId} when reporting it.`,
  };
}

/**
 * Whether to answer with HTML rather than problem+json: a page request (anything outside the JSON
 * API) from a browser or htmx. `/api/*` always gets problem+json.
 */
export function wantsHtml(c: Ctx): boolean {
  if (c.req.path === "/api" || c.req.path.startsWith("/api/")) return false;
  return isHtmxRequest(c) || /\btext\/html\b/i.test(c.req.header("accept") ?? "");
}

/**
 * Answers with a problem in the form the client wants: problem+json for the API and scripts, an
 * HTML error (panel fragment for htmx, page otherwise) with the same status and code for people.
 */
export function respondProblem(c: Ctx, problem: Problem): Response | Promise<Response> {
  if (!wantsHtml(c)) return problemResponse(c, problem);
  // A person who is not signed in is better served by the sign-in page than by an error.
  if (problem.code === "unauthenticated" && c.req.method === "GET") return toSignIn(c);
  const { status, title } = PROBLEM_CODES[problem.code];
  return renderProblemPage(c, {
    status,
    title,
    code: problem.code,
    detail: problem.detail,
    requestId: c.var.requestId,
    errors: problem.errors,
  });
}

/**
 * The single error handler. Expected errors become their problem document; anything else is logged
 * with its stack and answered with a generic 500 that leaks nothing.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const expected =
    err instanceof ProblemError ||
    err instanceof ServiceError ||
    (err instanceof HTTPException && err.status < 500);
  if (!expected) {
    c.var.deps.log.error("unhandled error", {
      requestId: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      error: err.name,
      detail: err.message,
      stack: err.stack,
    });
  }
  return respondProblem(c, problemFor(err, c.var.requestId));
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  respondProblem(c, {
    code: "not_found",
    detail: `No route matches ${c.req.method} ${c.req.path}.`,
  });
