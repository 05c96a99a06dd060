import { createRoute, z } from "@hono/zod-openapi";
import { WORK_EVENT_KINDS, WORK_STATES } from "../../../db/schema";
import { ServiceError } from "../../../domain/errors";
import { HOST_HEALTH } from "../../../domain/hosts/health";
import { listEnrollmentTokens } from "../../../domain/hosts/list-enrollment-tokens";
import { getHost, type HostView, listHosts } from "../../../domain/hosts/list-hosts";
import {
  cancelHostWorkAs,
  createEnrollmentTokenAs,
  decideHostAs,
  revokeEnrollmentTokenAs,
  setMaintenanceAs,
} from "../../../domain/hosts/operator-actions";
import { hostWorkItem, recentHostWork } from "../../../domain/hosts/recent-work";
import { hostWorkItemLog, WORK_LOG_LIMIT } from "../../../domain/hosts/work-item-log";
import { authorize, serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { common, commonRead, json, jsonBody, OrgIdParam } from "../tenancy-schemas";

const tags = ["hosts"];

const HostIdParam = z.object({
  hostId: z
    .string()
    .regex(/^host_[0-9a-z]{26}$/)
    .openapi({ param: { name: "hostId", in: "path" } }),
});
const EnrollmentTokenParams = OrgIdParam.extend({
  tokenId: z
    .string()
    .regex(/^enr_[0-9a-z]{26}$/)
    .openapi({ param: { name: "tokenId", in: "path" } }),
});

const EnrollmentToken = z
  .object({
    id: z.string(),
    orgId: z.string(),
    prefix: z.string(),
    description: z.string(),
    scope: z.string(),
    maxUses: z.number().int(),
    uses: z.number().int(),
    createdBy: z.string(),
    createdAt: z.number().int(),
    expiresAt: z.number().int(),
    revokedAt: z.number().int().nullable(),
  })
  .openapi("EnrollmentToken");

const EnrollmentTokenCreated = EnrollmentToken.extend({
  secret: z.string().openapi({
    description: "Pass to `strato-agent enroll --token`. Shown once: only its SHA-256 is kept.",
  }),
}).openapi("EnrollmentTokenCreated");

export const CreateEnrollmentTokenBody = z.object({
  description: z.string().trim().min(1).max(200),
  scope: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
    .default("default")
    .openapi({ description: "Site or cluster label copied onto the hosts enrolled with it" }),
  maxUses: z.number().int().min(1).max(1000).default(1),
  ttlHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(24),
});

const Host = z
  .object({
    id: z.string(),
    orgId: z.string(),
    name: z.string(),
    machineId: z.string(),
    scope: z.string(),
    state: z.string(),
    health: z.enum(HOST_HEALTH),
    maintenance: z.boolean(),
    replacesHostId: z.string().nullable(),
    facts: z.record(z.string(), z.unknown()),
    lastSeenAt: z.number().int().nullable(),
    lastStatusAt: z.number().int().nullable(),
    clockOffsetMs: z.number().int().nullable(),
    createdAt: z.number().int(),
  })
  .openapi("Host");

const WorkItemParams = HostIdParam.extend({
  itemId: z
    .string()
    .regex(/^wi_[0-9a-z]{26}$/)
    .openapi({ param: { name: "itemId", in: "path" } }),
});

const WorkItem = z
  .object({
    id: z.string(),
    op: z.string(),
    resourceKind: z.string(),
    resourceId: z.string(),
    state: z.enum(WORK_STATES),
    outcome: z.string().nullable(),
    cancelRequested: z.boolean().openapi({
      description: "Cancellation was asked for; the host stops the item at its next safe point",
    }),
    createdAt: z.number().int(),
    finishedAt: z.number().int().nullable(),
  })
  .openapi("HostWorkItem");

const WorkItemLog = WorkItem.extend({
  seq: z.number().int(),
  attempt: z.number().int(),
  leaseEpoch: z.number().int(),
  rejectReason: z.string().nullable(),
  startBy: z.number().int(),
  timeoutS: z.number().int(),
  late: z.boolean().openapi({ description: "A result that came after the item had ended" }),
  createdBy: z.string(),
  updatedAt: z.number().int(),
  result: z.record(z.string(), z.unknown()).nullable(),
  events: z
    .array(
      z.object({
        at: z.number().int(),
        kind: z.enum(WORK_EVENT_KINDS),
        leaseEpoch: z.number().int().nullable(),
        detail: z.record(z.string(), z.unknown()),
      }),
    )
    .openapi({ description: `Oldest first, at most ${WORK_LOG_LIMIT}` }),
}).openapi("HostWorkItemLog");

const ACTIONS = ["approve", "reject", "disable", "enable", "revoke"] as const;

const routes = {
  createToken: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/enrollment-tokens",
    tags,
    summary: "Create a host enrollment token (256-bit, shown once, 24 h by default)",
    request: { params: OrgIdParam, body: jsonBody(CreateEnrollmentTokenBody) },
    responses: { 201: json(EnrollmentTokenCreated, "Created"), ...common },
  }),
  listTokens: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/enrollment-tokens",
    tags,
    summary: "Enrollment tokens of the organization (never their secrets)",
    request: { params: OrgIdParam },
    responses: {
      200: json(z.object({ items: z.array(EnrollmentToken) }), "Tokens"),
      ...commonRead,
    },
  }),
  revokeToken: createRoute({
    method: "delete",
    path: "/api/v1/organizations/{orgId}/enrollment-tokens/{tokenId}",
    tags,
    summary: "Revoke an enrollment token; hosts already enrolled with it are unaffected",
    request: { params: EnrollmentTokenParams },
    responses: { 204: { description: "Revoked" }, ...common },
  }),
  listHosts: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/hosts",
    tags,
    summary: "Hosts of the organization with state, health and last seen",
    request: { params: OrgIdParam },
    responses: { 200: json(z.object({ items: z.array(Host) }), "Hosts"), ...commonRead },
  }),
  getHost: createRoute({
    method: "get",
    path: "/api/v1/hosts/{hostId}",
    tags,
    summary: "One host with its facts",
    request: { params: HostIdParam },
    responses: { 200: json(Host, "The host"), ...commonRead },
  }),
  decide: createRoute({
    method: "post",
    path: "/api/v1/hosts/{hostId}/{action}",
    tags,
    summary: "Approve, reject, disable, enable or revoke a host (takes effect on its next call)",
    request: {
      params: HostIdParam.extend({
        action: z.enum(ACTIONS).openapi({ param: { name: "action", in: "path" } }),
      }),
    },
    responses: { 200: json(Host, "The host after the decision"), ...common },
  }),
  work: createRoute({
    method: "get",
    path: "/api/v1/hosts/{hostId}/work-items",
    tags,
    summary: "The host's work items with their outcomes, newest first, a page at a time",
    request: {
      params: HostIdParam,
      query: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(20),
        state: z.enum(WORK_STATES).optional(),
        cursor: z
          .string()
          .regex(/^\d{1,15}$/)
          .optional(),
      }),
    },
    responses: {
      200: json(
        z
          .object({
            items: z.array(WorkItem),
            nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for more" }),
          })
          .openapi("HostWorkItemPage"),
        "Work items",
      ),
      ...commonRead,
    },
  }),
  workItem: createRoute({
    method: "get",
    path: "/api/v1/hosts/{hostId}/work-items/{itemId}",
    tags,
    summary: "One work item with its log: claims, acks, renewals, progress lines, the result",
    description: "The item's parameters are not shown (a VM's user data may hold secrets).",
    request: { params: WorkItemParams },
    responses: { 200: json(WorkItemLog, "The item and its log"), ...commonRead },
  }),
  cancelWork: createRoute({
    method: "post",
    path: "/api/v1/hosts/{hostId}/work-items/{itemId}/cancel",
    tags,
    summary:
      "Cancel a work item: a queued one at once; one the host holds stops at its next safe point",
    description:
      "A VM operation whose item is cancelled ends `cancelled`. Cancelling again is a no-op; " +
      "an item that already ended is `409 already_finished`. Needs `operate` on the host.",
    request: { params: WorkItemParams },
    responses: {
      200: json(WorkItem, "The item after the request"),
      ...common,
      ...problemResponses("already_finished"),
    },
  }),
  maintenance: createRoute({
    method: "put",
    path: "/api/v1/hosts/{hostId}/maintenance",
    tags,
    summary: "Drain (no new work placed) or undrain a host",
    request: { params: HostIdParam, body: jsonBody(z.object({ enabled: z.boolean() })) },
    responses: { 200: json(Host, "The host"), ...common },
  }),
};

async function hostOrThrow(
  c: Parameters<typeof serviceContext>[0],
  hostId: string,
): Promise<HostView> {
  const host = await getHost(c.var.deps, hostId);
  if (!host) throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
  return host;
}

/** The host's organization, for the audit record of a refused action. */
/** Operator routes for hosts and enrollment tokens (issue 5 §1, §2, §8). */
export function registerHosts(app: Router): void {
  app.openapi(routes.createToken, async (c) => {
    const { orgId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { token, secret } = await createEnrollmentTokenAs(serviceContext(c), orgId, () => ({
      description: body.description,
      scope: body.scope,
      maxUses: body.maxUses,
      ttlMs: body.ttlHours * 3_600_000,
    }));
    return c.json({ ...token, secret }, 201);
  });

  app.openapi(routes.listTokens, async (c) => {
    const { orgId } = c.req.valid("param");
    await authorize(c, { type: "organization", id: orgId }, "manage_hosts");
    return c.json({ items: await listEnrollmentTokens(c.var.deps, orgId) }, 200);
  });

  app.openapi(routes.revokeToken, async (c) => {
    const { orgId, tokenId } = c.req.valid("param");
    await revokeEnrollmentTokenAs(serviceContext(c), orgId, tokenId);
    return c.body(null, 204);
  });

  app.openapi(routes.listHosts, async (c) => {
    const { orgId } = c.req.valid("param");
    await authorize(c, { type: "organization", id: orgId }, "view_hosts");
    return c.json({ items: await listHosts(c.var.deps, orgId) }, 200);
  });

  app.openapi(routes.getHost, async (c) => {
    const { hostId } = c.req.valid("param");
    await authorize(c, { type: "host", id: hostId }, "view");
    return c.json(await hostOrThrow(c, hostId), 200);
  });

  app.openapi(routes.decide, async (c) => {
    const { hostId, action } = c.req.valid("param");
    await decideHostAs(serviceContext(c), hostId, action);
    return c.json(await hostOrThrow(c, hostId), 200);
  });

  app.openapi(routes.work, async (c) => {
    const { hostId } = c.req.valid("param");
    const { limit, state, cursor } = c.req.valid("query");
    const page = await recentHostWork(serviceContext(c), hostId, {
      limit,
      ...(state ? { state } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return c.json(page, 200);
  });

  app.openapi(routes.workItem, async (c) => {
    const { hostId, itemId } = c.req.valid("param");
    return c.json(await hostWorkItemLog(serviceContext(c), hostId, itemId), 200);
  });

  app.openapi(routes.cancelWork, async (c) => {
    const { hostId, itemId } = c.req.valid("param");
    await cancelHostWorkAs(serviceContext(c), hostId, itemId);
    return c.json(await hostWorkItem(c.var.deps, hostId, itemId), 200);
  });

  app.openapi(routes.maintenance, async (c) => {
    const { hostId } = c.req.valid("param");
    await setMaintenanceAs(serviceContext(c), hostId, c.req.valid("json").enabled);
    return c.json(await hostOrThrow(c, hostId), 200);
  });
}
