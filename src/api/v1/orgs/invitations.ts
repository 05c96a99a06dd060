import { createRoute, z } from "@hono/zod-openapi";
import { acceptInvitation } from "../../../domain/orgs/accept-invitation";
import { createInvitation } from "../../../domain/orgs/create-invitation";
import { listInvitations } from "../../../domain/orgs/list-invitations";
import { revokeInvitation } from "../../../domain/orgs/revoke-invitation";
import { serviceContext } from "../../../http/auth";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { Email } from "../auth/schemas";
import {
  common,
  commonRead,
  Invitation,
  InvitationParams,
  invitationJson,
  json,
  jsonBody,
  Organization,
  OrgIdParam,
  OrgRole,
  organizationJson,
} from "../tenancy-schemas";

const tags = ["invitations"];

/** Who is invited, as what, and for how long (the invitation page's form parses the same). */
export const CreateInvitationBody = z.object({
  email: Email,
  role: OrgRole,
  expiresInDays: z.number().int().min(1).max(30).optional(),
});

const InvitationCreated = Invitation.extend({
  url: z.string().openapi({
    description: "The invitation link. Shown once: only a hash of its secret is stored.",
  }),
}).openapi("InvitationCreated");

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/invitations",
    tags,
    summary: "Pending invitations (not used, revoked or expired)",
    request: { params: OrgIdParam },
    responses: {
      200: json(z.object({ items: z.array(Invitation) }), "Pending invitations"),
      ...commonRead,
    },
  }),
  create: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/invitations",
    tags,
    summary: "Invite someone by email; returns a single-use link (7 days unless told otherwise)",
    request: {
      params: OrgIdParam,
      body: jsonBody(CreateInvitationBody),
    },
    responses: {
      201: json(InvitationCreated, "Created"),
      ...common,
      ...problemResponses("already_member"),
    },
  }),
  revoke: createRoute({
    method: "delete",
    path: "/api/v1/organizations/{orgId}/invitations/{invitationId}",
    tags,
    summary: "Withdraw a pending invitation",
    request: { params: InvitationParams },
    responses: { 204: { description: "Revoked" }, ...common, ...problemResponses("conflict") },
  }),
  accept: createRoute({
    method: "post",
    path: "/api/v1/invitations/accept",
    tags,
    summary: "Accept an invitation as the signed-in person",
    request: {
      body: jsonBody(
        z.object({
          token: z.string().min(16).max(128).openapi({ description: "The secret from the link" }),
        }),
      ),
    },
    responses: {
      200: json(
        z.object({ organization: Organization }).openapi("InvitationAccepted"),
        "You are now a member",
      ),
      ...common,
      ...problemResponses("invitation_invalid", "already_member"),
    },
  }),
};

export function registerInvitations(app: Router): void {
  app.openapi(routes.list, async (c) => {
    const items = await listInvitations(serviceContext(c), c.req.valid("param").orgId);
    return c.json({ items: items.map(invitationJson) }, 200);
  });

  app.openapi(routes.create, async (c) => {
    const { invitation, url } = await createInvitation(
      serviceContext(c),
      c.req.valid("param").orgId,
      c.req.valid("json"),
    );
    return c.json({ ...invitationJson(invitation), url }, 201);
  });

  app.openapi(routes.revoke, async (c) => {
    const { orgId, invitationId } = c.req.valid("param");
    await revokeInvitation(serviceContext(c), orgId, invitationId);
    return c.body(null, 204);
  });

  app.openapi(routes.accept, async (c) => {
    const { organization, role } = await acceptInvitation(
      serviceContext(c),
      c.req.valid("json").token,
    );
    return c.json({ organization: organizationJson({ ...organization, role }) }, 200);
  });
}
