import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { CSRF_FIELD, type FormState } from "../../templates/components/form";
import { ServiceError } from "../domain/errors";
import { problemFor } from "../http/errors";
import { parseFormBody } from "../http/form-body";
import { type FieldError, PROBLEM_CODES, type Problem, ProblemError } from "../http/problem";
import { fieldErrors } from "../http/validation";

export type { FormState };

/** A form with nothing submitted yet. */
export function emptyForm(values: Record<string, string> = {}): FormState {
  return { values, errors: {} };
}

/**
 * The submitted fields of a urlencoded or multipart form as strings (files and repeated names
 * beyond the first are dropped; the CSRF field is left out).
 */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await parseFormBody(c);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === CSRF_FIELD) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === "string") values[name] = first;
  }
  return values;
}

/**
 * Parses a form's fields with the same schema the REST API uses for the body; invalid input is a
 * 422 naming the form's fields, for `formFailure` to put under them.
 */
export function parseForm<T extends z.ZodType>(schema: T, fields: unknown): z.output<T> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return parsed.data;
  throw new ServiceError(
    "VALIDATION",
    "Some fields need another look.",
    fieldErrors("form", parsed.error),
  );
}

/**
 * Field errors by field name (the first message per field), for errors about the form body.
 * Errors about the form as a whole (no field) or about other parts of the request are returned in
 * `rest`.
 */
export function fieldErrorMap(errors: readonly FieldError[]): {
  fields: Record<string, string>;
  rest: FieldError[];
} {
  const fields: Record<string, string> = {};
  const rest: FieldError[] = [];
  for (const e of errors) {
    if ((e.in === "form" || e.in === "body") && e.field !== "") {
      fields[e.field] ??= e.message;
    } else {
      rest.push(e);
    }
  }
  return { fields, rest };
}

/** A failed form submission, ready to re-render the form with its status. */
export type FormFailure = { status: ContentfulStatusCode; state: FormState; problem: Problem };

/**
 * Statuses a person can fix by changing the form (bad or invalid input, a conflict such as a taken
 * name); others (unauthenticated, forbidden, not found, 500) propagate to `onError`.
 */
const FIXABLE: ReadonlySet<number> = new Set([400, 409, 412, 422]);

/**
 * Turns a `ServiceError`/`ProblemError` a form's action threw into inline errors: each field
 * error goes under its field, the rest becomes the form's summary error. Returns undefined for
 * anything that is not about the input, which the route should rethrow for `onError`.
 *
 * @example
 *   try { await createOrg(ctx, values); }
 *   catch (err) {
 *     const failed = formFailure(err, values);
 *     if (!failed) throw err;
 *     return renderFragment(c, <OrgForm state={failed.state} />, failed.status);
 *   }
 */
export function formFailure(err: unknown, values: Record<string, string>): FormFailure | undefined {
  if (!(err instanceof ServiceError || err instanceof ProblemError)) return undefined;
  const problem = problemFor(err);
  const status = PROBLEM_CODES[problem.code].status;
  if (!FIXABLE.has(status)) return undefined;
  const { fields, rest } = fieldErrorMap(problem.errors ?? []);
  const hasFieldErrors = Object.keys(fields).length > 0;
  const summary = [hasFieldErrors && rest.length === 0 ? "" : problem.detail]
    .concat(rest.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)))
    .filter(Boolean)
    .join(" ");
  return {
    status,
    state: { values, errors: fields, formError: summary || undefined },
    problem,
  };
}
