import { createRoute, z } from "@hono/zod-openapi";
import { listAuditEvents } from "../../../domain/audit/list-audit-events";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { AuditEvent, auditEventJson, commonRead, json, OrgIdParam } from "../tenancy-schemas";

const AuditQuery = z.object({
  action: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z_.]+$/, "an action such as project.create")
    .optional(),
  actorId: z.string().min(1).max(80).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().min(1).max(120).optional(),
});

const list = createRoute({
  method: "get",
  path: "/api/v1/organizations/{orgId}/audit-events",
  tags: ["audit"],
  summary: "The organization's audit log, newest first (owners, admins)",
  request: { params: OrgIdParam, query: AuditQuery },
  responses: {
    200: json(
      z
        .object({
          items: z.array(AuditEvent),
          nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for more" }),
        })
        .openapi("AuditEventPage"),
      "Audit events",
    ),
    ...commonRead,
  },
});

export function registerAuditEvents(app: Router): void {
  app.openapi(list, async (c) => {
    const page = await listAuditEvents(
      serviceContext(c),
      c.req.valid("param").orgId,
      c.req.valid("query"),
    );
    return c.json({ items: page.items.map(auditEventJson), nextCursor: page.nextCursor }, 200);
  });
}
