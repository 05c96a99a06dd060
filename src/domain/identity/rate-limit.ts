import type { Deps } from "../../deps";

export type RateLimitRule = { limit: number; windowMs: number };
export type RateLimitResult = { allowed: true } | { allowed: false; retryAfterS: number };

/**
 * A fixed-window counter in libSQL: one upsert per attempt, shared by every Worker isolate and
 * Node process (in-memory counters would give each isolate its own budget).
 */
export async function consumeRateLimit(
  deps: Deps,
  key: string,
  rule: RateLimitRule,
): Promise<RateLimitResult> {
  const now = deps.clock.now();
  const staleBefore = now - rule.windowMs;
  const rs = await deps.db.$client.execute({
    sql: `INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1)
          ON CONFLICT(key) DO UPDATE SET
            count = CASE WHEN window_start <= ? THEN 1 ELSE count + 1 END,
            window_start = CASE WHEN window_start <= ? THEN excluded.window_start ELSE window_start END
          RETURNING window_start, count`,
    args: [key, now, staleBefore, staleBefore],
  });
  const row = rs.rows[0];
  const count = Number(row?.[1] ?? 1);
  const windowStart = Number(row?.[0] ?? now);
  if (count <= rule.limit) return { allowed: true };
  return {
    allowed: false,
    retryAfterS: Math.max(1, Math.ceil((windowStart + rule.windowMs - now) / 1000)),
  };
}
