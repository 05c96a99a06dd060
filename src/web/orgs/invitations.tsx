import type { Hono } from "hono";
import { InvitationPage } from "../../../templates/pages/auth/invitation";
import { ServiceError } from "../../domain/errors";
import { acceptInvitation, findUsableInvitation } from "../../domain/orgs/accept-invitation";
import { loadOrganization } from "../../domain/orgs/shared";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { renderSignUp } from "../auth/routes";
import { pageSession, toSignIn } from "../console";
import { setFlash } from "../flash";
import { renderPage } from "../render";

/** Invitation links: accept when signed in, or create an account / sign in first; and sign-up. */
export function registerInvitationPages(app: Hono<AppEnv>): void {
  app.get("/invitations/:secret", async (c) => {
    const secret = c.req.param("secret");
    const invitation = await findUsableInvitation(c.var.deps, secret);
    const org = await loadOrganization(c.var.deps, invitation.orgId);
    const active = pageSession(c);
    return renderPage(c, {
      title: `Invitation to ${org.name}`,
      layout: { bare: true, ...(active ? { csrfToken: active.session.csrfToken } : {}) },
      body: (
        <InvitationPage
          invitation={{ orgName: org.name, role: invitation.role, email: invitation.email, secret }}
          signedInAs={
            active ? { email: active.user.email, csrfToken: active.session.csrfToken } : undefined
          }
        />
      ),
    });
  });

  app.post("/invitations/:secret/accept", async (c) => {
    if (!pageSession(c)) return toSignIn(c);
    try {
      const { organization, role } = await acceptInvitation(
        serviceContext(c),
        c.req.param("secret"),
      );
      setFlash(c, { kind: "success", message: `You joined ${organization.name} as ${role}.` });
      return c.redirect(`/orgs/${organization.id}`, 303);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.reason !== "already_member") throw err;
      setFlash(c, { kind: "info", message: err.message });
      return c.redirect("/", 303);
    }
  });

  app.get("/sign-up", async (c) => {
    if (pageSession(c)) return c.redirect("/", 303);
    const secret = c.req.query("invitation");
    if (secret) {
      const invitation = await findUsableInvitation(c.var.deps, secret);
      const org = await loadOrganization(c.var.deps, invitation.orgId);
      return renderSignUp(c, { secret, email: invitation.email, orgName: org.name });
    }
    if (c.var.deps.config.signup !== "open") {
      throw new ServiceError(
        "FORBIDDEN",
        "Sign-up is by invitation only here: ask someone to invite you.",
        [],
        "signup_closed",
      );
    }
    return renderSignUp(c);
  });
}
