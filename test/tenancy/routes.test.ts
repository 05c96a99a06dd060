import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";
import { expectInvalid, expectProblem, mintToken, team } from "./fixtures";

/**
 * Every tenancy route, table-driven: malformed ids are 422 naming the path field, anonymous
 * callers get 401 before anything else, and people who may not see the target get 404.
 */
type Route = {
  method: string;
  path: (ids: Ids) => string;
  body?: unknown;
  /** The path field a malformed id is reported as, and the path with it. */
  bad?: { field: string; path: string };
};
type Ids = { org: string; project: string; user: string; invitation: string; token: string };

const ROUTES: Route[] = [
  { method: "GET", path: () => "/api/v1/me" },
  { method: "GET", path: () => "/api/v1/organizations" },
  { method: "POST", path: () => "/api/v1/organizations", body: { name: "x" } },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}`,
    bad: { field: "orgId", path: "/api/v1/organizations/acme" },
  },
  {
    method: "PATCH",
    path: (i) => `/api/v1/organizations/${i.org}`,
    body: { name: "x" },
    bad: { field: "orgId", path: "/api/v1/organizations/acme" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/organizations/${i.org}`,
    bad: { field: "orgId", path: "/api/v1/organizations/acme" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}/members`,
    bad: { field: "orgId", path: "/api/v1/organizations/ORG_1/members" },
  },
  {
    method: "PATCH",
    path: (i) => `/api/v1/organizations/${i.org}/members/${i.user}`,
    body: { role: "viewer" },
    bad: { field: "userId", path: "/api/v1/organizations/org_1/members/me" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/organizations/${i.org}/members/${i.user}`,
    bad: { field: "userId", path: "/api/v1/organizations/org_1/members/me" },
  },
  {
    method: "POST",
    path: (i) => `/api/v1/organizations/${i.org}/leave`,
    bad: { field: "orgId", path: "/api/v1/organizations/x/leave" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}/invitations`,
    bad: { field: "orgId", path: "/api/v1/organizations/x/invitations" },
  },
  {
    method: "POST",
    path: (i) => `/api/v1/organizations/${i.org}/invitations`,
    body: { email: "a@example.test", role: "viewer" },
    bad: { field: "orgId", path: "/api/v1/organizations/x/invitations" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/organizations/${i.org}/invitations/${i.invitation}`,
    bad: { field: "invitationId", path: "/api/v1/organizations/org_1/invitations/1" },
  },
  { method: "POST", path: () => "/api/v1/invitations/accept", body: { token: "x".repeat(43) } },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}/projects`,
    bad: { field: "orgId", path: "/api/v1/organizations/x/projects" },
  },
  {
    method: "POST",
    path: (i) => `/api/v1/organizations/${i.org}/projects`,
    body: { name: "x" },
    bad: { field: "orgId", path: "/api/v1/organizations/x/projects" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/projects/${i.project}`,
    bad: { field: "projectId", path: "/api/v1/projects/web" },
  },
  {
    method: "PATCH",
    path: (i) => `/api/v1/projects/${i.project}`,
    body: { name: "x" },
    bad: { field: "projectId", path: "/api/v1/projects/web" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/projects/${i.project}`,
    bad: { field: "projectId", path: "/api/v1/projects/web" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/projects/${i.project}/members`,
    bad: { field: "projectId", path: "/api/v1/projects/web/members" },
  },
  {
    method: "POST",
    path: (i) => `/api/v1/projects/${i.project}/members`,
    body: { userId: "usr_1", role: "viewer" },
    bad: { field: "projectId", path: "/api/v1/projects/web/members" },
  },
  {
    method: "PATCH",
    path: (i) => `/api/v1/projects/${i.project}/members/${i.user}`,
    body: { role: "viewer" },
    bad: { field: "userId", path: "/api/v1/projects/prj_1/members/u1" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/projects/${i.project}/members/${i.user}`,
    bad: { field: "userId", path: "/api/v1/projects/prj_1/members/u1" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}/tokens`,
    bad: { field: "orgId", path: "/api/v1/organizations/x/tokens" },
  },
  {
    method: "POST",
    path: (i) => `/api/v1/organizations/${i.org}/tokens`,
    body: { name: "x", role: "viewer" },
    bad: { field: "orgId", path: "/api/v1/organizations/x/tokens" },
  },
  {
    method: "DELETE",
    path: (i) => `/api/v1/tokens/${i.token}`,
    bad: { field: "tokenId", path: "/api/v1/tokens/strato_abc" },
  },
  {
    method: "GET",
    path: (i) => `/api/v1/organizations/${i.org}/audit-events`,
    bad: { field: "orgId", path: "/api/v1/organizations/x/audit-events" },
  },
];

const name = (r: Route) =>
  `${r.method} ${r.path({ org: "{orgId}", project: "{projectId}", user: "{userId}", invitation: "{invitationId}", token: "{tokenId}" })}`;

async function setup() {
  const h = await createHarness();
  const t = await team(h);
  const invitation = (await (
    await t.owner.request(`/api/v1/organizations/${t.org.id}/invitations`, {
      method: "POST",
      json: { email: "z@example.test", role: "viewer" },
    })
  ).json()) as { id: string };
  const token = await mintToken(t.member, t.org.id, { role: "viewer" });
  const ids: Ids = {
    org: t.org.id,
    project: t.project.id,
    user: t.member.user.id,
    invitation: invitation.id,
    token: token.id,
  };
  return { h, t, ids };
}

const send = (body: unknown, method: string): RequestInit =>
  body === undefined
    ? { method }
    : { method, body: JSON.stringify(body), headers: { "content-type": "application/json" } };

describe("every tenancy route", () => {
  it.each(ROUTES.map((r) => [name(r), r] as const))(
    "%s: 401 anonymous, 404 outsider, 422 bad id",
    async (_n, route) => {
      const { h, t, ids } = await setup();
      const path = route.path(ids);
      await expectProblem(
        await h.request(path, send(route.body, route.method)),
        401,
        "unauthenticated",
      );
      // A bad bearer token is refused as such.
      await expectProblem(
        await h.request(path, {
          ...send(route.body, route.method),
          headers: { authorization: "Bearer strato_forged", "content-type": "application/json" },
        }),
        401,
        "token_invalid",
      );
      if (route.bad) {
        await expectInvalid(
          await t.owner.request(route.bad.path, {
            method: route.method,
            ...(route.body === undefined ? {} : { json: route.body }),
          }),
          route.bad.field,
          "path",
        );
        const res = await t.outsider.request(path, {
          method: route.method,
          ...(route.body === undefined ? {} : { json: route.body }),
        });
        await expectProblem(res, 404, "not_found");
      }
      expect(true).toBe(true);
    },
  );
});
