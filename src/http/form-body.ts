import type { Context } from "hono";
import { ProblemError } from "./problem";

type FormBody = Awaited<ReturnType<Context["req"]["parseBody"]>>;

/**
 * The parsed form body. One that cannot be parsed (a broken multipart body: undici's `formData()`
 * throws a TypeError) is a 400, not a 500. Anything else, such as the body limit's own error,
 * goes on as it is.
 */
export async function parseFormBody(c: Context): Promise<FormBody> {
  try {
    return await c.req.parseBody();
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new ProblemError({
      code: "bad_request",
      detail: "The form body could not be read; send it as application/x-www-form-urlencoded.",
    });
  }
}
