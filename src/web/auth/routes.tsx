import type { Hono } from "hono";
import { assets } from "../../../templates/layouts/assets";
import { SetupPage } from "../../../templates/pages/auth/setup";
import { SignInPage } from "../../../templates/pages/auth/sign-in";
import { SignUpPage } from "../../../templates/pages/auth/sign-up";
import { revokeSession } from "../../domain/identity/sessions";
import { countUsers } from "../../domain/identity/users";
import type { AppEnv } from "../../http/env";
import { clearSessionCookie } from "../../http/session-cookie";
import { pageSession, safeNext } from "../console";
import { setFlash } from "../flash";
import { renderPage } from "../render";

/** Scripts of pages that run passkey ceremonies. */
export function passkeyScripts(): string[] {
  return [assets().webauthn, "/static/js/passkeys.js"];
}

/** Set-up, sign-in, sign-up and sign-out pages. The ceremonies themselves are /api/v1/auth/*. */
export function registerAuthPages(app: Hono<AppEnv>): void {
  app.get("/setup", async (c) => {
    if ((await countUsers(c.var.deps)) > 0) return c.redirect("/sign-in", 303);
    return renderPage(c, {
      title: "Set up",
      layout: { bare: true, scripts: passkeyScripts() },
      body: <SetupPage />,
    });
  });

  app.get("/sign-in", async (c) => {
    const next = safeNext(c.req.query("next"));
    if (pageSession(c)) return c.redirect(next, 303);
    if ((await countUsers(c.var.deps)) === 0) return c.redirect("/setup", 303);
    return renderPage(c, {
      title: "Sign in",
      layout: { bare: true, scripts: passkeyScripts() },
      body: <SignInPage next={next} signUpOpen={c.var.deps.config.signup === "open"} />,
    });
  });

  app.post("/sign-out", async (c) => {
    const active = c.var.session;
    if (active) await revokeSession(c.var.deps, active.user.id, active.session.id);
    clearSessionCookie(c);
    setFlash(c, { kind: "success", message: "You are signed out." });
    return c.redirect("/sign-in", 303);
  });
}

/** The sign-up page, given what an invitation link says (if the visitor came with one). */
export function renderSignUp(
  c: Parameters<typeof renderPage>[0],
  invitation?: { secret: string; email: string; orgName: string },
): Promise<Response> {
  return renderPage(c, {
    title: "Create account",
    layout: { bare: true, scripts: passkeyScripts() },
    body: <SignUpPage {...(invitation ? { invitation } : {})} />,
  });
}
