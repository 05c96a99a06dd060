import type { Hono } from "hono";
import { PasskeysPage } from "../../../templates/pages/account/passkeys";
import { SessionsPage } from "../../../templates/pages/account/sessions";
import { ServiceError } from "../../domain/errors";
import {
  listPasskeys,
  removePasskey,
  renamePasskey,
} from "../../domain/identity/passkey-management";
import { listSessions, revokeSession } from "../../domain/identity/sessions";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { thenBack } from "../actions";
import { passkeyScripts } from "../auth/routes";
import { consoleLayout, formatTime, pageSession, toSignIn } from "../console";
import { readForm } from "../forms";
import { renderPage } from "../render";

/** The signed-in person's passkeys and sessions. */
export function registerAccountPages(app: Hono<AppEnv>): void {
  app.get("/account/passkeys", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const rows = await listPasskeys(serviceContext(c));
    return renderPage(c, {
      title: "Passkeys",
      layout: await consoleLayout(c, active, { scripts: passkeyScripts() }),
      body: (
        <PasskeysPage
          csrfToken={active.session.csrfToken}
          passkeys={rows.map((p) => ({
            id: p.id,
            name: p.name,
            backedUp: p.backedUp,
            createdAt: formatTime(p.createdAt),
            lastUsedAt: formatTime(p.lastUsedAt),
          }))}
        />
      ),
    });
  });

  app.post("/account/passkeys/:id/rename", async (c) => {
    if (!pageSession(c)) return toSignIn(c);
    const { name = "" } = await readForm(c);
    return thenBack(c, "/account/passkeys", "Passkey renamed.", async () => {
      const trimmed = name.trim();
      if (trimmed === "" || trimmed.length > 60) {
        throw new ServiceError("VALIDATION", "A passkey name is 1 to 60 characters.");
      }
      await renamePasskey(serviceContext(c), c.req.param("id"), trimmed);
    });
  });

  app.post("/account/passkeys/:id/remove", async (c) => {
    if (!pageSession(c)) return toSignIn(c);
    return thenBack(c, "/account/passkeys", "Passkey removed.", () =>
      removePasskey(serviceContext(c), c.req.param("id")),
    );
  });

  app.get("/account/sessions", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const rows = await listSessions(c.var.deps, active.user.id);
    return renderPage(c, {
      title: "Sessions",
      layout: await consoleLayout(c, active),
      body: (
        <SessionsPage
          csrfToken={active.session.csrfToken}
          sessions={rows.map((s) => ({
            id: s.id,
            current: s.id === active.session.id,
            userAgent: s.userAgent,
            ip: s.ip,
            createdAt: formatTime(s.createdAt),
            lastSeenAt: formatTime(s.lastSeenAt),
          }))}
        />
      ),
    });
  });

  app.post("/account/sessions/:id/revoke", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    return thenBack(c, "/account/sessions", "That session is signed out.", async () => {
      if (!(await revokeSession(c.var.deps, active.user.id, c.req.param("id")))) {
        throw new ServiceError("NOT_FOUND", "That session has already ended.");
      }
    });
  });
}
