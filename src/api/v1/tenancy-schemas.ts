import { z } from "@hono/zod-openapi";
import { ORG_ROLES, PROJECT_ROLES } from "../../db/schema";
import type { AuditEventRow } from "../../domain/audit/list-audit-events";
import type { InvitationRow } from "../../domain/orgs/create-invitation";
import type { OrganizationView } from "../../domain/orgs/get-organization";
import { SLUG_PATTERN } from "../../domain/orgs/shared";
import type { ProjectRow } from "../../domain/projects/shared";
import type { ApiTokenView } from "../../domain/tokens/shared";
import { problemResponses } from "../schemas";

/** Request and response shapes shared by the organization, project, token and audit routes. */

const idOf = (prefix: string, what: string) =>
  z
    .string()
    .max(64)
    .regex(new RegExp(`^${prefix}_[0-9a-z]{1,60}$`), `must be ${what} id (${prefix}_…)`)
    .openapi({ example: `${prefix}_01jd7x3k2m9q8r7s6t5v4w3x2y` });

export const OrgIdParam = z.object({
  orgId: idOf("org", "an organization").openapi({ param: { name: "orgId", in: "path" } }),
});
export const ProjectIdParam = z.object({
  projectId: idOf("prj", "a project").openapi({ param: { name: "projectId", in: "path" } }),
});
export const UserId = idOf("usr", "a user");
export const OrgMemberParams = OrgIdParam.extend({
  userId: UserId.openapi({ param: { name: "userId", in: "path" } }),
});
export const ProjectMemberParams = ProjectIdParam.extend({
  userId: UserId.openapi({ param: { name: "userId", in: "path" } }),
});
export const InvitationParams = OrgIdParam.extend({
  invitationId: idOf("inv", "an invitation").openapi({
    param: { name: "invitationId", in: "path" },
  }),
});
export const TokenIdParam = z.object({
  tokenId: idOf("tok", "an API token").openapi({ param: { name: "tokenId", in: "path" } }),
});

export const Name = z.string().trim().min(1).max(100).openapi({ example: "Acme" });
export const Slug = z
  .string()
  .regex(SLUG_PATTERN, "lower-case letters, digits and dashes, 1–63 characters")
  .openapi({ example: "acme" });
export const OrgRole = z.enum(ORG_ROLES);
export const ProjectRole = z.enum(PROJECT_ROLES);

/** A new organization or project: a name and, optionally, its URL name. */
export const CreateNamedBody = z.object({
  name: Name,
  slug: Slug.optional().openapi({ description: "Derived from the name when left out" }),
});

/** A PATCH body that renames: at least one of the two. */
export const RenameBody = z
  .object({ name: Name.optional(), slug: Slug.optional() })
  .refine((b) => b.name !== undefined || b.slug !== undefined, {
    message: "send name, slug or both",
    path: ["name"],
  });

export const Organization = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    role: OrgRole.nullable().openapi({ description: "Your own role here (null: none directly)" }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Organization");

export function organizationJson(o: OrganizationView) {
  return {
    id: o.id,
    slug: o.slug,
    name: o.name,
    role: o.role,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}

export const Member = z
  .object({
    userId: z.string(),
    email: z.string(),
    displayName: z.string(),
    role: OrgRole,
    createdAt: z.number().int(),
  })
  .openapi("Member");

export const ProjectMember = z
  .object({
    userId: z.string(),
    email: z.string(),
    displayName: z.string(),
    role: ProjectRole,
    createdAt: z.number().int(),
  })
  .openapi("ProjectMember");

export const Invitation = z
  .object({
    id: z.string(),
    orgId: z.string(),
    email: z.string(),
    role: OrgRole,
    invitedBy: z.string(),
    createdAt: z.number().int(),
    expiresAt: z.number().int(),
  })
  .openapi("Invitation");

export function invitationJson(i: InvitationRow) {
  return {
    id: i.id,
    orgId: i.orgId,
    email: i.email,
    role: i.role,
    invitedBy: i.invitedBy,
    createdAt: i.createdAt,
    expiresAt: i.expiresAt,
  };
}

export const Project = z
  .object({
    id: z.string(),
    orgId: z.string(),
    slug: z.string(),
    name: z.string(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Project");

export function projectJson(p: ProjectRow) {
  return {
    id: p.id,
    orgId: p.orgId,
    slug: p.slug,
    name: p.name,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export const ApiToken = z
  .object({
    id: z.string(),
    orgId: z.string(),
    projectId: z.string().nullable(),
    name: z.string(),
    role: OrgRole,
    prefix: z.string().openapi({ description: "The first characters of the secret" }),
    createdBy: z.string(),
    parentTokenId: z.string().nullable().openapi({
      description:
        "The token that minted this one, if a token did: it expires no later, and revoking it revokes this one",
    }),
    createdAt: z.number().int(),
    expiresAt: z.number().int().nullable(),
    lastUsedAt: z.number().int().nullable(),
    revokedAt: z.number().int().nullable(),
  })
  .openapi("ApiToken");

export function tokenJson(t: ApiTokenView) {
  return {
    id: t.id,
    orgId: t.orgId,
    projectId: t.projectId,
    name: t.name,
    role: t.role,
    prefix: t.prefix,
    createdBy: t.createdBy,
    parentTokenId: t.parentTokenId,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
  };
}

export const AuditEvent = z
  .object({
    id: z.string(),
    at: z.number().int(),
    actorType: z.enum(["user", "api_token", "host", "system"]),
    actorId: z.string(),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    orgId: z.string().nullable(),
    outcome: z.enum(["success", "failure", "denied"]),
    requestId: z.string(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEvent");

export function auditEventJson(e: AuditEventRow) {
  return {
    id: e.id,
    at: e.at,
    actorType: e.actorType,
    actorId: e.actorId,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    orgId: e.orgId,
    outcome: e.outcome,
    requestId: e.requestId,
    detail: e.detail,
  };
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/** Problems every authenticated route may answer with. */
export const common = problemResponses(
  "validation_failed",
  "unauthenticated",
  "forbidden",
  "csrf_failed",
  "not_found",
);
export const commonRead = problemResponses(
  "validation_failed",
  "unauthenticated",
  "forbidden",
  "not_found",
);
