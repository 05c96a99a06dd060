import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Ctx } from "./env";

/**
 * The session cookie: HttpOnly, SameSite=Lax, and on https `Secure` with the `__Host-` prefix
 * (no Domain, Path=/), so no subdomain can set or shadow it. Plain http is only for localhost.
 */
function cookieSpec(c: Ctx): { name: string; secure: boolean } {
  const secure = c.var.deps.config.webauthn.origin.startsWith("https:");
  return { name: secure ? "__Host-strato_session" : "strato_session", secure };
}

export function readSessionCookie(c: Ctx): string | undefined {
  return getCookie(c, cookieSpec(c).name);
}

export function writeSessionCookie(c: Ctx, token: string): void {
  const { name, secure } = cookieSpec(c);
  setCookie(c, name, token, {
    httpOnly: true,
    secure,
    sameSite: "Lax",
    path: "/",
    maxAge: Math.floor(c.var.deps.config.session.maxMs / 1000),
  });
}

export function clearSessionCookie(c: Ctx): void {
  const { name, secure } = cookieSpec(c);
  deleteCookie(c, name, { path: "/", secure });
}
