import { createRoute, z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../../domain/context";
import { ServiceError } from "../../../domain/errors";
import { addProjectMember } from "../../../domain/projects/add-project-member";
import { changeProjectMember } from "../../../domain/projects/change-project-member";
import { listProjectMembers } from "../../../domain/projects/list-project-members";
import { removeProjectMember } from "../../../domain/projects/remove-project-member";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import {
  common,
  commonRead,
  json,
  jsonBody,
  ProjectIdParam,
  ProjectMember,
  ProjectMemberParams,
  ProjectRole,
  UserId,
} from "../tenancy-schemas";

const tags = ["projects"];

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/projects/{projectId}/members",
    tags,
    summary: "People with a role on this project (organization roles apply on top)",
    request: { params: ProjectIdParam },
    responses: {
      200: json(z.object({ items: z.array(ProjectMember) }), "Project members"),
      ...commonRead,
    },
  }),
  add: createRoute({
    method: "post",
    path: "/api/v1/projects/{projectId}/members",
    tags,
    summary: "Give a member of the organization a role on this project",
    request: {
      params: ProjectIdParam,
      body: jsonBody(z.object({ userId: UserId, role: ProjectRole })),
    },
    responses: {
      201: json(ProjectMember, "Added"),
      ...common,
      ...problemResponses("already_member"),
    },
  }),
  change: createRoute({
    method: "patch",
    path: "/api/v1/projects/{projectId}/members/{userId}",
    tags,
    summary: "Change someone's project role",
    request: { params: ProjectMemberParams, body: jsonBody(z.object({ role: ProjectRole })) },
    responses: { 200: json(ProjectMember, "Changed"), ...common },
  }),
  remove: createRoute({
    method: "delete",
    path: "/api/v1/projects/{projectId}/members/{userId}",
    tags,
    summary: "Take someone's project role away",
    request: { params: ProjectMemberParams },
    responses: { 204: { description: "Removed" }, ...common },
  }),
};

async function memberView(sc: ServiceContext, projectId: string, userId: string) {
  const member = (await listProjectMembers(sc, projectId)).find((m) => m.userId === userId);
  if (!member) throw new ServiceError("NOT_FOUND", `${userId} has no role on ${projectId}.`);
  return member;
}

export function registerProjectMembers(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listProjectMembers(serviceContext(c), c.req.valid("param").projectId);
    return c.json({ items }, 200);
  });

  app.openapi(routes.add, async (c) => {
    const sc = serviceContext(c);
    const { projectId } = c.req.valid("param");
    const body = c.req.valid("json");
    await addProjectMember(sc, projectId, body);
    return c.json(await memberView(sc, projectId, body.userId), 201);
  });

  app.openapi(routes.change, async (c) => {
    const sc = serviceContext(c);
    const { projectId, userId } = c.req.valid("param");
    await changeProjectMember(sc, projectId, userId, c.req.valid("json").role);
    return c.json(await memberView(sc, projectId, userId), 200);
  });

  app.openapi(routes.remove, async (c) => {
    const { projectId, userId } = c.req.valid("param");
    await removeProjectMember(serviceContext(c), projectId, userId);
    return c.body(null, 204);
  });
}
