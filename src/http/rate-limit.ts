import { ServiceError } from "../domain/errors";
import { consumeRateLimit, type RateLimitRule } from "../domain/identity/rate-limit";
import type { Ctx } from "./env";

/**
 * Counts one attempt against every key (e.g. per IP and per user) and answers 429 with
 * `Retry-After` once any of them is over its limit.
 */
export async function enforceRateLimit(
  c: Ctx,
  rule: RateLimitRule,
  keys: readonly string[],
): Promise<void> {
  let retryAfterS = 0;
  for (const key of keys) {
    const result = await consumeRateLimit(c.var.deps, key, rule);
    if (!result.allowed) retryAfterS = Math.max(retryAfterS, result.retryAfterS);
  }
  if (retryAfterS > 0) {
    c.header("Retry-After", String(retryAfterS));
    throw new ServiceError(
      "LIMIT_EXCEEDED",
      `Too many attempts; try again in ${retryAfterS} s.`,
      [],
      "rate_limited",
    );
  }
}
