import { and, isNotNull, lt, or } from "drizzle-orm";
import { rateLimits, sessions, webauthnChallenges } from "../../db/schema";
import type { Deps } from "../../deps";

/** Rate-limit windows are at most this long; a counter older than that counts nothing. */
const LONGEST_WINDOW_MS = 60 * 60_000;
/** Ended sessions are kept this long before they go (a day to look at in the database). */
const ENDED_SESSION_KEPT_MS = 86_400_000;

export type IdentityPurge = { challenges: number; rateLimits: number; sessions: number };

/**
 * Periodic: drops what unauthenticated requests leave behind and nothing reads any more: passkey
 * challenges past their expiry, rate-limit counters of windows long over, and sessions that
 * ended (expired, idle too long or signed out) over a day ago. Without it each of these tables
 * grows with every sign-in attempt.
 */
export async function purgeIdentityLeftovers(deps: Deps): Promise<IdentityPurge> {
  const { db } = deps;
  const now = deps.clock.now();
  const endedBefore = now - ENDED_SESSION_KEPT_MS;
  const [challenges, counters, ended] = await db.batch([
    db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, now)),
    db.delete(rateLimits).where(lt(rateLimits.windowStart, now - LONGEST_WINDOW_MS)),
    db
      .delete(sessions)
      .where(
        or(
          lt(sessions.expiresAt, endedBefore),
          lt(sessions.lastSeenAt, endedBefore - deps.config.session.idleMs),
          and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, endedBefore)),
        ),
      ),
  ]);
  return {
    challenges: challenges.rowsAffected,
    rateLimits: counters.rowsAffected,
    sessions: ended.rowsAffected,
  };
}
