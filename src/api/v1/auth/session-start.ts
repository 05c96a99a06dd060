import { revokeSession, startSession } from "../../../domain/identity/sessions";
import { clientIp } from "../../../http/client-ip";
import type { Ctx } from "../../../http/env";
import { writeSessionCookie } from "../../../http/session-cookie";

/**
 * Starts a fresh session for a user who just proved who they are, ending the session this browser
 * had before (a new id on every sign-in defeats session fixation).
 */
export async function signIn(c: Ctx, userId: string): Promise<{ csrfToken: string }> {
  const previous = c.var.session;
  if (previous) await revokeSession(c.var.deps, previous.user.id, previous.session.id);
  const { token, session } = await startSession(c.var.deps, userId, {
    userAgent: c.req.header("user-agent") ?? "",
    ip: clientIp(c),
  });
  writeSessionCookie(c, token);
  return { csrfToken: session.csrfToken };
}
