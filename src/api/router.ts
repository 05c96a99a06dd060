import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env";
import { problemResponse } from "../http/problem";
import { fieldErrors } from "../http/validation";

export type Router = OpenAPIHono<AppEnv>;

/**
 * A router whose request validation failures all become one 422 problem listing every invalid
 * field, whatever part of the request they are in.
 */
export function createRouter(): Router {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const target = result.target === "cookie" ? "header" : result.target;
      return problemResponse(c, {
        code: "validation_failed",
        detail: "The request has invalid fields; see `errors`.",
        errors: fieldErrors(target, result.error),
      });
    },
  });
}
