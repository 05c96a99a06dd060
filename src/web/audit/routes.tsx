import { inArray } from "drizzle-orm";
import type { Hono } from "hono";
import { AuditPage } from "../../../templates/pages/audit/audit";
import { users } from "../../db/schema";
import { listAuditEvents } from "../../domain/audit/list-audit-events";
import { getOrganization } from "../../domain/orgs/get-organization";
import { serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { consoleLayout, formatTime, pageSession, toSignIn } from "../console";
import { renderPage } from "../render";

const PAGE_SIZE = 50;

type AuditQuery = { action: string; actor: string; limit: number; cursor?: string };

function auditHref(orgId: string, q: AuditQuery) {
  const params = new URLSearchParams();
  if (q.limit !== PAGE_SIZE) params.set("limit", String(q.limit));
  if (q.action) params.set("action", q.action);
  if (q.actor) params.set("actor", q.actor);
  if (q.cursor) params.set("cursor", q.cursor);
  const search = params.toString();
  return `/orgs/${orgId}/audit${search ? `?${search}` : ""}`;
}

/** Display names of the people among a page's actors (the rest show as type and id). */
async function userNames(c: Ctx, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await c.var.deps.db
    .select({ id: users.id, name: users.displayName })
    .from(users)
    .where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** `/orgs/:orgId/audit`: the organization's audit log, for those with `audit` on it. */
export function registerAuditPages(app: Hono<AppEnv>): void {
  app.get("/audit", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const layout = await consoleLayout(c, active);
    const orgId = layout.switcher?.currentOrgId;
    return c.redirect(orgId ? `/orgs/${orgId}/audit` : "/", 303);
  });

  app.get("/orgs/:orgId/audit", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = c.req.param("orgId");
    const sc = serviceContext(c);
    const action = (c.req.query("action") ?? "").trim().slice(0, 100);
    const actor = (c.req.query("actor") ?? "").trim().slice(0, 100);
    const cursor = c.req.query("cursor") || undefined;
    const asked = Number(c.req.query("limit") ?? PAGE_SIZE);
    const limit = Number.isInteger(asked) && asked >= 1 && asked <= 200 ? asked : PAGE_SIZE;
    // The log decides who may read it (403 for members, 404 for outsiders).
    const page = await listAuditEvents(sc, orgId, {
      action: action || undefined,
      actorId: actor || undefined,
      limit,
      cursor,
    });
    const org = await getOrganization(sc, orgId);
    const names = await userNames(
      c,
      page.items.filter((e) => e.actorType === "user").map((e) => e.actorId),
    );
    return renderPage(c, {
      title: "Audit log",
      layout: await consoleLayout(c, active),
      body: (
        <AuditPage
          org={{ id: org.id, name: org.name }}
          filters={{ action, actor }}
          rows={page.items.map((e) => ({
            id: e.id,
            at: formatTime(e.at),
            actor: names.get(e.actorId) ?? `${e.actorType} ${e.actorId}`,
            actorId: e.actorId,
            action: e.action,
            target: `${e.targetType} ${e.targetId}`,
            outcome: e.outcome,
            requestId: e.requestId,
            detail: JSON.stringify(e.detail),
          }))}
          nextHref={
            page.nextCursor
              ? auditHref(orgId, { action, actor, limit, cursor: page.nextCursor })
              : null
          }
          firstHref={cursor ? auditHref(orgId, { action, actor, limit }) : null}
        />
      ),
    });
  });
}
