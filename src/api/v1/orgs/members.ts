import { createRoute, z } from "@hono/zod-openapi";
import { ServiceError } from "../../../domain/errors";
import { changeMemberRole } from "../../../domain/orgs/change-member-role";
import { leaveOrganization } from "../../../domain/orgs/leave-organization";
import { listMembers } from "../../../domain/orgs/list-members";
import { removeMember } from "../../../domain/orgs/remove-member";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import {
  common,
  commonRead,
  json,
  jsonBody,
  Member,
  OrgIdParam,
  OrgMemberParams,
  OrgRole,
} from "../tenancy-schemas";

const tags = ["organizations"];

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/members",
    tags,
    summary: "Members of an organization and their roles",
    request: { params: OrgIdParam },
    responses: { 200: json(z.object({ items: z.array(Member) }), "Members"), ...commonRead },
  }),
  changeRole: createRoute({
    method: "patch",
    path: "/api/v1/organizations/{orgId}/members/{userId}",
    tags,
    summary: "Change a member's role (owners and admins; owner changes only by owners)",
    request: { params: OrgMemberParams, body: jsonBody(z.object({ role: OrgRole })) },
    responses: {
      200: json(Member, "The member with the new role"),
      ...common,
      ...problemResponses("last_owner"),
    },
  }),
  remove: createRoute({
    method: "delete",
    path: "/api/v1/organizations/{orgId}/members/{userId}",
    tags,
    summary: "Remove a member (their API tokens for the organization are revoked)",
    request: { params: OrgMemberParams },
    responses: { 204: { description: "Removed" }, ...common, ...problemResponses("last_owner") },
  }),
  leave: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/leave",
    tags,
    summary: "Leave an organization (not as its last owner)",
    request: { params: OrgIdParam },
    responses: { 204: { description: "Left" }, ...common, ...problemResponses("last_owner") },
  }),
};

export function registerMembers(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listMembers(serviceContext(c), c.req.valid("param").orgId);
    return c.json({ items }, 200);
  });

  app.openapi(routes.changeRole, async (c) => {
    const sc = serviceContext(c);
    const { orgId, userId } = c.req.valid("param");
    await changeMemberRole(sc, orgId, userId, c.req.valid("json").role);
    const member = (await listMembers(sc, orgId)).find((m) => m.userId === userId);
    if (!member) throw new ServiceError("NOT_FOUND", `${userId} is not a member of ${orgId}.`);
    return c.json(member, 200);
  });

  app.openapi(routes.remove, async (c) => {
    const { orgId, userId } = c.req.valid("param");
    await removeMember(serviceContext(c), orgId, userId);
    return c.body(null, 204);
  });

  app.openapi(routes.leave, async (c) => {
    await leaveOrganization(serviceContext(c), c.req.valid("param").orgId);
    return c.body(null, 204);
  });
}
