import type { Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import {
  TokenForm,
  TokensPage,
  type TokensPageProps,
} from "../../../templates/pages/account/tokens";
import { ServiceError } from "../../domain/errors";
import { consoleContext } from "../../domain/identity/console-context";
import type { ActiveSession } from "../../domain/identity/sessions";
import { listProjects } from "../../domain/projects/list-projects";
import { createToken, type TokenRole } from "../../domain/tokens/create-token";
import { listTokens } from "../../domain/tokens/list-tokens";
import { revokeToken } from "../../domain/tokens/revoke-token";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { thenBack } from "../actions";
import { consoleLayout, formatTime, pageSession, toSignIn } from "../console";
import { emptyForm, formFailure, readForm } from "../forms";
import { renderFragment, renderPage } from "../render";

type Ctx = Context<AppEnv>;
const TOKEN_ROLES: readonly TokenRole[] = ["viewer", "member", "admin"];
const DAY_MS = 86_400_000;

/** The organization the tokens page is about: `?org=`, else the console's current one. */
async function pageOrg(c: Ctx, active: ActiveSession) {
  const ctx = await consoleContext(
    c.var.deps,
    active.user.id,
    c.req.query("org") ?? getCookie(c, "strato_org"),
  );
  return ctx.orgs.find((o) => o.id === (c.req.query("org") ?? ctx.currentOrgId));
}

async function pageProps(
  c: Ctx,
  active: ActiveSession,
  org: { id: string; name: string } | undefined,
) {
  const sc = serviceContext(c);
  const tokens = org ? await listTokens(sc, org.id) : [];
  const projects = org ? await listProjects(sc, org.id) : [];
  const projectName = new Map(projects.map((p) => [p.id, p.name]));
  return {
    org,
    tokens: tokens.map((t) => ({
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      role: t.role,
      project: t.projectId ? (projectName.get(t.projectId) ?? t.projectId) : "whole organization",
      expiresAt: t.expiresAt === null ? "never" : formatTime(t.expiresAt),
      lastUsedAt: formatTime(t.lastUsedAt),
      revoked: t.revokedAt !== null,
    })),
    projects: projects.map((p) => ({ id: p.id, name: p.name })),
    roles: [...TOKEN_ROLES],
    csrfToken: active.session.csrfToken,
  };
}

function tokenInput(values: Record<string, string>, now: number) {
  // The API's rule for names (CreateTokenBody): 1 to 100 characters once trimmed.
  const name = (values.name ?? "").trim();
  if (name.length < 1 || name.length > 100) {
    throw new ServiceError("VALIDATION", "Give the token a name of up to 100 characters.", [
      { in: "form", field: "name", code: "invalid", message: "1 to 100 characters" },
    ]);
  }
  const role = values.role as TokenRole;
  if (!TOKEN_ROLES.includes(role)) {
    throw new ServiceError("VALIDATION", "Pick a role.", [
      { in: "form", field: "role", code: "invalid", message: "pick a role from the list" },
    ]);
  }
  const days = values.expiresInDays?.trim();
  let expiresAt: number | undefined;
  if (days) {
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > 3650) {
      throw new ServiceError("VALIDATION", "Expiry is a whole number of days.", [
        {
          in: "form",
          field: "expiresInDays",
          code: "invalid",
          message: "1 to 3650 days, or empty",
        },
      ]);
    }
    expiresAt = now + n * DAY_MS;
  }
  return {
    name,
    role,
    ...(values.projectId ? { projectId: values.projectId } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/** API tokens of the current organization: list, create (secret shown once), revoke. */
export function registerTokenPages(app: Hono<AppEnv>): void {
  app.get("/account/tokens", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const props = await pageProps(c, active, await pageOrg(c, active));
    return renderPage(c, {
      title: "API tokens",
      layout: await consoleLayout(c, active),
      body: <TokensPage {...props} form={emptyForm({ role: "viewer" })} />,
    });
  });

  app.post("/account/tokens", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const org = await pageOrg(c, active);
    if (!org) throw new ServiceError("NOT_FOUND", "No such organization.");
    const values = await readForm(c);
    let props: Omit<TokensPageProps, "form">;
    try {
      const { token, secret } = await createToken(
        serviceContext(c),
        org.id,
        tokenInput(values, c.var.deps.clock.now()),
      );
      props = { ...(await pageProps(c, active, org)), created: { name: token.name, secret } };
      return renderFragment(
        c,
        <TokenForm {...props} org={org} form={emptyForm({ role: "viewer" })} />,
        201,
      );
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      props = await pageProps(c, active, org);
      return renderFragment(
        c,
        <TokenForm {...props} org={org} form={failed.state} />,
        failed.status,
      );
    }
  });

  app.post("/account/tokens/:tokenId/revoke", async (c) => {
    const org = c.req.query("org");
    return thenBack(
      c,
      `/account/tokens${org ? `?org=${encodeURIComponent(org)}` : ""}`,
      "Token revoked.",
      () => revokeToken(serviceContext(c), c.req.param("tokenId")),
    );
  });
}
