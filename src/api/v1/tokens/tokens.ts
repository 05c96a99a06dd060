import { createRoute, z } from "@hono/zod-openapi";
import { createToken } from "../../../domain/tokens/create-token";
import { listTokens } from "../../../domain/tokens/list-tokens";
import { revokeToken } from "../../../domain/tokens/revoke-token";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import {
  ApiToken,
  common,
  commonRead,
  json,
  jsonBody,
  Name,
  OrgIdParam,
  ProjectIdParam,
  TokenIdParam,
  tokenJson,
} from "../tenancy-schemas";

const tags = ["api tokens"];

const ApiTokenCreated = ApiToken.extend({
  secret: z.string().openapi({
    description: "Send as `Authorization: Bearer <secret>`. Shown once: only its SHA-256 is kept.",
    example: "strato_…",
  }),
}).openapi("ApiTokenCreated");

const CreateTokenBody = z.object({
  name: Name.openapi({ example: "ci deploys" }),
  role: z.enum(["admin", "member", "viewer"]).openapi({
    description: "At most your own role in the organization (or project); tokens are never owners",
  }),
  projectId: ProjectIdParam.shape.projectId
    .optional()
    .openapi({ description: "Limit the token to this project of the organization" }),
  expiresAt: z
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: "UTC milliseconds; no expiry when left out" }),
});

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/tokens",
    tags,
    summary: "API tokens of the organization you can see (yours; all of them for admins)",
    request: { params: OrgIdParam },
    responses: { 200: json(z.object({ items: z.array(ApiToken) }), "API tokens"), ...commonRead },
  }),
  create: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/tokens",
    tags,
    summary: "Mint an API token with a role no higher than yours; the secret is shown once",
    request: { params: OrgIdParam, body: jsonBody(CreateTokenBody) },
    responses: {
      201: json(ApiTokenCreated, "Created"),
      ...common,
      ...problemResponses("role_too_high"),
    },
  }),
  revoke: createRoute({
    method: "delete",
    path: "/api/v1/tokens/{tokenId}",
    tags,
    summary: "Revoke an API token (its creator, organization owners and admins)",
    request: { params: TokenIdParam },
    responses: { 204: { description: "Revoked" }, ...common },
  }),
};

export function registerTokens(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listTokens(serviceContext(c), c.req.valid("param").orgId);
    return c.json({ items: items.map(tokenJson) }, 200);
  });

  app.openapi(routes.create, async (c) => {
    const { token, secret } = await createToken(
      serviceContext(c),
      c.req.valid("param").orgId,
      c.req.valid("json"),
    );
    return c.json({ ...tokenJson(token), secret }, 201);
  });

  app.openapi(routes.revoke, async (c) => {
    await revokeToken(serviceContext(c), c.req.valid("param").tokenId);
    return c.body(null, 204);
  });
}
