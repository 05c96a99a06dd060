import { z } from "@hono/zod-openapi";
import { PROBLEM_CODES, PROBLEM_CONTENT_TYPE, type ProblemCode } from "../http/problem";

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:strato:problem:validation_failed" }),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(PROBLEM_CODES) as [ProblemCode, ...ProblemCode[]]),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string().optional(),
    errors: z
      .array(
        z.object({
          in: z.enum(["body", "query", "path", "header", "form"]),
          field: z.string(),
          code: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .openapi("Problem", { description: "RFC 9457 problem details with a stable `code`." });

/** OpenAPI response entries for the given problem codes, for a route's `responses`. */
export function problemResponses(...codes: ProblemCode[]) {
  const responses: Record<
    number,
    { description: string; content: Record<string, { schema: typeof ProblemSchema }> }
  > = {};
  for (const code of codes) {
    const { status, title } = PROBLEM_CODES[code];
    const existing = responses[status];
    responses[status] = {
      description: existing ? `${existing.description}; ${title}` : title,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
    };
  }
  return responses;
}
