import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { consoleNav } from "../../templates/components/nav";
import type { AppLayoutProps } from "../../templates/layouts/app";
import { consoleContext } from "../domain/identity/console-context";
import type { ActiveSession } from "../domain/identity/sessions";
import type { AppEnv } from "../http/env";
import { htmxRedirect } from "../http/htmx";

type Ctx = Context<AppEnv>;

/** The organization the console shows (the switcher sets it); authorization still applies. */
const CURRENT_ORG_COOKIE = "strato_org";

export function rememberCurrentOrg(c: Ctx, orgId: string): void {
  setCookie(c, CURRENT_ORG_COOKIE, orgId, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    // As the session cookie: over https it never goes out in clear.
    secure: c.var.deps.config.webauthn.origin.startsWith("https:"),
  });
}

/** The signed-in browser session of a page request, or null. */
export function pageSession(c: Ctx): ActiveSession | null {
  return c.var.actor?.kind === "user" ? c.var.session : null;
}

/** Where an anonymous visitor of a console page goes: sign in, then come back. */
export function toSignIn(c: Ctx): Response {
  const next = c.req.path + (new URL(c.req.url).search || "");
  // htmx follows a 303 silently inside its fetch; it needs HX-Redirect to change the page.
  return htmxRedirect(c, `/sign-in?next=${encodeURIComponent(next)}`);
}

/** An origin no request has, to tell a path of ours from one that leaves the site. */
const OWN = "http://strato.invalid";

/**
 * Only same-site paths are followed after sign-in (no open redirect). Browsers drop tabs and
 * newlines and read `\` as `/` when they parse a URL, so `/\t/evil.example` would become
 * `//evil.example`: such characters are refused outright, and what is left must stay on our origin.
 * The path given back is checked too, not only the one asked for: resolving dot segments turns
 * `/.//evil.example` into `//evil.example`, which a browser reads as another site.
 */
export function safeNext(next: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
  if (!next?.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(next)) return "/";
  const url = new URL(next, OWN);
  const path = url.pathname + url.search + url.hash;
  return url.origin === OWN && !path.startsWith("//") ? path : "/";
}

/** The layout props of a signed-in page: who, CSRF token, and the org/project switcher. */
export async function consoleLayout(
  c: Ctx,
  active: ActiveSession,
  extra: { scripts?: readonly string[]; currentProjectId?: string } = {},
): Promise<AppLayoutProps> {
  const ctx = await consoleContext(c.var.deps, active.user.id, getCookie(c, CURRENT_ORG_COOKIE));
  // Offer "New project" only to those who may create one there.
  const mayCreateProject =
    ctx.currentOrgId !== undefined &&
    (
      await c.var.deps.authz.check({
        entity: { type: "organization", id: ctx.currentOrgId },
        permission: "create_project",
        subject: { type: "user", id: active.user.id },
      })
    ).allowed;
  return {
    user: { name: active.user.displayName, email: active.user.email },
    csrfToken: active.session.csrfToken,
    nav: consoleNav(ctx.currentOrgId),
    switcher: {
      orgs: ctx.orgs.map((o) => ({ ...o, href: `/orgs/${o.id}` })),
      currentOrgId: ctx.currentOrgId,
      projects: ctx.projects.map((p) => ({ ...p, href: `/projects/${p.id}` })),
      currentProjectId: extra.currentProjectId,
      createOrgHref: "/orgs/new",
      ...(mayCreateProject ? { createProjectHref: `/orgs/${ctx.currentOrgId}/projects/new` } : {}),
    },
    ...(extra.scripts ? { scripts: extra.scripts } : {}),
  };
}

/** Times on pages: UTC, to the minute, the same for everyone. */
export function formatTime(ms: number | null): string {
  if (ms === null) return "never";
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
