import { createRoute, z } from "@hono/zod-openapi";
import { ServiceError } from "../../domain/errors";
import { findUser } from "../../domain/identity/users";
import { serviceContext } from "../../http/auth";
import type { Router } from "../router";
import { problemResponses } from "../schemas";
import { User, userJson } from "./auth/schemas";
import { OrgRole } from "./tenancy-schemas";

const Me = z
  .object({
    kind: z.enum(["user", "api_token"]),
    user: User.openapi({ description: "You, or the person who minted the token" }),
    token: z
      .object({
        id: z.string(),
        orgId: z.string(),
        projectId: z.string().nullable(),
        role: OrgRole,
      })
      .nullable(),
  })
  .openapi("Me");

const getMe = createRoute({
  method: "get",
  path: "/api/v1/me",
  tags: ["account"],
  summary: "Who you are: the signed-in person, or the API token and its creator",
  responses: {
    200: { description: "You", content: { "application/json": { schema: Me } } },
    ...problemResponses("unauthenticated"),
  },
});

export function registerMe(app: Router): void {
  app.openapi(getMe, async (c) => {
    const { actor, deps } = serviceContext(c);
    if (actor.kind !== "user" && actor.kind !== "api_token") {
      throw new ServiceError("UNAUTHENTICATED", "Sign in or send an API token.");
    }
    const userId = actor.kind === "user" ? actor.userId : actor.createdBy;
    const user = await findUser(deps, userId);
    if (!user) throw new ServiceError("UNAUTHENTICATED", "Your account no longer exists.");
    const token =
      actor.kind === "api_token"
        ? { id: actor.tokenId, orgId: actor.orgId, projectId: actor.projectId, role: actor.role }
        : null;
    return c.json({ kind: actor.kind, user: userJson(user), token }, 200);
  });
}
