import { and, desc, eq, isNull } from "drizzle-orm";
import { sessions, users } from "../../db/schema";
import type { Deps } from "../../deps";
import { newSecret, sha256Hex } from "../../lib/secrets";

export type SessionRow = typeof sessions.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type ActiveSession = { session: SessionRow; user: UserRow };

/** Touching `last_seen_at` on every request would write on every page view; once a minute will do. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Starts a session for a user who just proved who they are. Always a new id and secret, so a
 * session id planted before sign-in is worthless afterwards.
 */
export async function startSession(
  deps: Deps,
  userId: string,
  meta: { userAgent: string; ip: string },
): Promise<{ token: string; session: SessionRow }> {
  const now = deps.clock.now();
  const token = newSecret(deps.random);
  const row: SessionRow = {
    id: deps.ids.next("session"),
    tokenHash: await sha256Hex(token),
    userId,
    csrfToken: newSecret(deps.random),
    userAgent: meta.userAgent.slice(0, 300),
    ip: meta.ip.slice(0, 64),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + deps.config.session.maxMs,
    revokedAt: null,
  };
  await deps.db.insert(sessions).values(row);
  return { token, session: row };
}

/** The live session behind a cookie value, or null if it is unknown, revoked, idle or too old. */
export async function sessionFromToken(deps: Deps, token: string): Promise<ActiveSession | null> {
  const now = deps.clock.now();
  const [found] = await deps.db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.tokenHash, await sha256Hex(token)))
    .limit(1);
  if (!found) return null;
  const { session } = found;
  if (!usable(deps, session, now)) return null;
  if (now - session.lastSeenAt >= TOUCH_INTERVAL_MS) {
    await deps.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, session.id));
    session.lastSeenAt = now;
  }
  return found;
}

function usable(
  deps: Deps,
  session: Pick<SessionRow, "revokedAt" | "expiresAt" | "lastSeenAt">,
  now: number,
): boolean {
  return (
    session.revokedAt === null &&
    now < session.expiresAt &&
    now < session.lastSeenAt + deps.config.session.idleMs
  );
}

/**
 * Whether a session a long-lived request started with can still be used (not signed out, revoked,
 * idle or too old). Unlike `sessionFromToken`, it does not count as activity.
 */
export async function sessionStillUsable(deps: Deps, sessionId: string): Promise<boolean> {
  const [session] = await deps.db
    .select({
      revokedAt: sessions.revokedAt,
      expiresAt: sessions.expiresAt,
      lastSeenAt: sessions.lastSeenAt,
    })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
    .limit(1);
  return session !== undefined && usable(deps, session, deps.clock.now());
}

/** Ends one session of `userId` (a user can only end their own). Returns whether one was ended. */
export async function revokeSession(
  deps: Deps,
  userId: string,
  sessionId: string,
): Promise<boolean> {
  const ended = await deps.db
    .update(sessions)
    .set({ revokedAt: deps.clock.now() })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return ended.length > 0;
}

/** A user's sessions that can still be used, newest first. */
export async function listSessions(deps: Deps, userId: string): Promise<SessionRow[]> {
  const now = deps.clock.now();
  const rows = await deps.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .orderBy(desc(sessions.lastSeenAt));
  return rows.filter((s) => now < s.expiresAt && now < s.lastSeenAt + deps.config.session.idleMs);
}
