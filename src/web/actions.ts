import type { Context } from "hono";
import { ServiceError } from "../domain/errors";
import { setFlash } from "./flash";

/**
 * Runs a plain form's action and goes back to `back` with the outcome as a flash message: what a
 * person can fix (a conflict, a refusal) is explained on the page they came from; anything else
 * (not signed in, a bug) goes to the error handler.
 */
export async function thenBack(
  c: Context,
  back: string,
  success: string,
  action: () => Promise<unknown>,
): Promise<Response> {
  try {
    await action();
    setFlash(c, { kind: "success", message: success });
  } catch (err) {
    if (!(err instanceof ServiceError) || err.code === "UNAUTHENTICATED") {
      throw err;
    }
    setFlash(c, { kind: "error", message: err.message });
  }
  return c.redirect(back, 303);
}
