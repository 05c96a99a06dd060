import { createRoute, z } from "@hono/zod-openapi";
import { createOrganization } from "../../../domain/orgs/create-organization";
import { deleteOrganization } from "../../../domain/orgs/delete-organization";
import { getOrganization } from "../../../domain/orgs/get-organization";
import { listOrganizations } from "../../../domain/orgs/list-organizations";
import { updateOrganization } from "../../../domain/orgs/update-organization";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import {
  CreateNamedBody,
  common,
  commonRead,
  json,
  jsonBody,
  Organization,
  OrgIdParam,
  organizationJson,
  RenameBody,
} from "../tenancy-schemas";

const tags = ["organizations"];

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/organizations",
    tags,
    summary: "Organizations you can see",
    responses: {
      200: json(z.object({ items: z.array(Organization) }), "Organizations"),
      ...problemResponses("unauthenticated"),
    },
  }),
  create: createRoute({
    method: "post",
    path: "/api/v1/organizations",
    tags,
    summary: "Create an organization; you become its owner",
    request: {
      body: jsonBody(CreateNamedBody),
    },
    responses: {
      201: json(Organization, "Created"),
      ...common,
      ...problemResponses("slug_taken"),
    },
  }),
  get: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}",
    tags,
    summary: "One organization",
    request: { params: OrgIdParam },
    responses: { 200: json(Organization, "The organization"), ...commonRead },
  }),
  update: createRoute({
    method: "patch",
    path: "/api/v1/organizations/{orgId}",
    tags,
    summary: "Rename an organization (owners, admins)",
    request: { params: OrgIdParam, body: jsonBody(RenameBody) },
    responses: {
      200: json(Organization, "Renamed"),
      ...common,
      ...problemResponses("slug_taken"),
    },
  }),
  remove: createRoute({
    method: "delete",
    path: "/api/v1/organizations/{orgId}",
    tags,
    summary: "Delete an organization without projects (owners)",
    request: { params: OrgIdParam },
    responses: { 204: { description: "Deleted" }, ...common, ...problemResponses("not_empty") },
  }),
};

export function registerOrganizations(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listOrganizations(serviceContext(c));
    return c.json({ items: items.map(organizationJson) }, 200);
  });

  app.openapi(routes.create, async (c) => {
    const org = await createOrganization(serviceContext(c), c.req.valid("json"));
    return c.json(organizationJson({ ...org, role: "owner" }), 201);
  });

  app.openapi(routes.get, async (c) => {
    const org = await getOrganization(serviceContext(c), c.req.valid("param").orgId);
    return c.json(organizationJson(org), 200);
  });

  app.openapi(routes.update, async (c) => {
    const sc = serviceContext(c);
    const { orgId } = c.req.valid("param");
    await updateOrganization(sc, orgId, c.req.valid("json"));
    return c.json(organizationJson(await getOrganization(sc, orgId)), 200);
  });

  app.openapi(routes.remove, async (c) => {
    await deleteOrganization(serviceContext(c), c.req.valid("param").orgId);
    return c.body(null, 204);
  });
}
