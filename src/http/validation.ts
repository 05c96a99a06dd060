import type { ZodError } from "zod";
import type { FieldError } from "./problem";

type Target = "json" | "form" | "query" | "param" | "header" | "cookie";

const LOCATION: Record<Target, FieldError["in"]> = {
  json: "body",
  form: "form",
  query: "query",
  param: "path",
  header: "header",
  cookie: "header",
};

/** Turns zod issues into the `errors` list of a 422 problem: one entry per offending field. */
export function fieldErrors(target: Target, error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    in: LOCATION[target],
    field: issue.path.map(String).join("."),
    code: issue.code,
    message: issue.message,
  }));
}
