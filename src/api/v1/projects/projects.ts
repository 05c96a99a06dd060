import { createRoute, z } from "@hono/zod-openapi";
import { createProject } from "../../../domain/projects/create-project";
import { deleteProject } from "../../../domain/projects/delete-project";
import { getProject } from "../../../domain/projects/get-project";
import { listProjects } from "../../../domain/projects/list-projects";
import { updateProject } from "../../../domain/projects/update-project";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import {
  CreateNamedBody,
  common,
  commonRead,
  json,
  jsonBody,
  OrgIdParam,
  Project,
  ProjectIdParam,
  projectJson,
  RenameBody,
} from "../tenancy-schemas";

const tags = ["projects"];

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/projects",
    tags,
    summary: "Projects of an organization that you can see",
    request: { params: OrgIdParam },
    responses: { 200: json(z.object({ items: z.array(Project) }), "Projects"), ...commonRead },
  }),
  create: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/projects",
    tags,
    summary: "Create a project (organization owners and admins)",
    request: {
      params: OrgIdParam,
      body: jsonBody(CreateNamedBody),
    },
    responses: {
      201: json(Project, "Created"),
      ...common,
      ...problemResponses("slug_taken"),
    },
  }),
  get: createRoute({
    method: "get",
    path: "/api/v1/projects/{projectId}",
    tags,
    summary: "One project",
    request: { params: ProjectIdParam },
    responses: { 200: json(Project, "The project"), ...commonRead },
  }),
  update: createRoute({
    method: "patch",
    path: "/api/v1/projects/{projectId}",
    tags,
    summary: "Rename a project (project admins)",
    request: { params: ProjectIdParam, body: jsonBody(RenameBody) },
    responses: {
      200: json(Project, "Renamed"),
      ...common,
      ...problemResponses("slug_taken"),
    },
  }),
  remove: createRoute({
    method: "delete",
    path: "/api/v1/projects/{projectId}",
    tags,
    summary: "Delete an empty project (project admins)",
    request: { params: ProjectIdParam },
    responses: { 204: { description: "Deleted" }, ...common, ...problemResponses("not_empty") },
  }),
};

export function registerProjects(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listProjects(serviceContext(c), c.req.valid("param").orgId);
    return c.json({ items: items.map(projectJson) }, 200);
  });

  app.openapi(routes.create, async (c) => {
    const project = await createProject(
      serviceContext(c),
      c.req.valid("param").orgId,
      c.req.valid("json"),
    );
    return c.json(projectJson(project), 201);
  });

  app.openapi(routes.get, async (c) => {
    const project = await getProject(serviceContext(c), c.req.valid("param").projectId);
    return c.json(projectJson(project), 200);
  });

  app.openapi(routes.update, async (c) => {
    const project = await updateProject(
      serviceContext(c),
      c.req.valid("param").projectId,
      c.req.valid("json"),
    );
    return c.json(projectJson(project), 200);
  });

  app.openapi(routes.remove, async (c) => {
    await deleteProject(serviceContext(c), c.req.valid("param").projectId);
    return c.body(null, 204);
  });
}
