import { and, eq } from "drizzle-orm";
import { expect } from "vitest";
import { auditEvents, authzTuples, memberships, type OrgRole } from "../../src/db/schema";
import { commit, type ServiceContext } from "../../src/domain/context";
import { writeTuples } from "../../src/domain/relationships";
import { signedInUser, type TestUser, withToken } from "../support/actors";
import type { Harness } from "../support/harness";

export const PROBLEM = "application/problem+json";

export type Problem = {
  status: number;
  code: string;
  detail: string;
  requestId: string;
  errors?: { in: string; field: string; code: string }[];
};

/** Asserts a problem+json answer with this status and code, and returns it. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toBe(PROBLEM);
  const body = JSON.parse(text) as Problem;
  expect(body.code, text).toBe(code);
  return body;
}

/** Asserts a 422 naming the field (in the given part of the request). */
export async function expectInvalid(res: Response, field: string, where = "body"): Promise<void> {
  const p = await expectProblem(res, 422, "validation_failed");
  expect(p.errors?.map((e) => `${e.in}:${e.field}`)).toContain(`${where}:${field}`);
}

export async function okJson<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export type Org = { id: string; slug: string; name: string; role: OrgRole | null };
export type Project = { id: string; orgId: string; slug: string; name: string };
export type Token = { id: string; secret: string; role: string; prefix: string };

export async function createOrg(owner: TestUser, name = "Acme"): Promise<Org> {
  return okJson<Org>(
    await owner.request("/api/v1/organizations", { method: "POST", json: { name } }),
    201,
  );
}

export async function createProject(
  owner: TestUser,
  orgId: string,
  name = "Web",
): Promise<Project> {
  return okJson<Project>(
    await owner.request(`/api/v1/organizations/${orgId}/projects`, {
      method: "POST",
      json: { name },
    }),
    201,
  );
}

/** Makes someone a member directly (the invitation flow has its own tests). */
export async function addMember(h: Harness, orgId: string, user: TestUser, role: OrgRole) {
  const sc: ServiceContext = { deps: h.deps, actor: { kind: "system" }, requestId: "test" };
  await commit(h.deps.db, [
    h.deps.db
      .insert(memberships)
      .values({ orgId, userId: user.user.id, role, createdAt: h.clock.now() }),
    ...writeTuples(sc, [
      {
        entity: { type: "organization", id: orgId },
        relation: role,
        subject: { type: "user", id: user.user.id },
      },
    ]),
  ]);
}

export type Team = {
  h: Harness;
  org: Org;
  project: Project;
  owner: TestUser;
  admin: TestUser;
  member: TestUser;
  viewer: TestUser;
  outsider: TestUser;
};

/** An organization with one project and one person in each role, plus an outsider. */
export async function team(h: Harness): Promise<Team> {
  const owner = await signedInUser(h, { name: "Olive Owner" });
  const admin = await signedInUser(h, { name: "Adam Admin" });
  const member = await signedInUser(h, { name: "Mia Member" });
  const viewer = await signedInUser(h, { name: "Vic Viewer" });
  const outsider = await signedInUser(h, { name: "Otto Outsider" });
  const org = await createOrg(owner);
  await addMember(h, org.id, admin, "admin");
  await addMember(h, org.id, member, "member");
  await addMember(h, org.id, viewer, "viewer");
  const project = await createProject(owner, org.id);
  return { h, org, project, owner, admin, member, viewer, outsider };
}

export async function mintToken(
  by: TestUser,
  orgId: string,
  body: { name?: string; role: string; projectId?: string; expiresAt?: number },
): Promise<Token> {
  return okJson<Token>(
    await by.request(`/api/v1/organizations/${orgId}/tokens`, {
      method: "POST",
      json: { name: "script", ...body },
    }),
    201,
  );
}

export function asToken(h: Harness, secret: string) {
  return (path: string, init: RequestInit & { json?: unknown } = {}) =>
    withToken(h, secret, path, init);
}

export async function auditRows(h: Harness, action?: string) {
  const rows = await h.deps.db
    .select()
    .from(auditEvents)
    .where(action === undefined ? undefined : eq(auditEvents.action, action));
  return rows;
}

export async function tuplesOf(h: Harness, type: string, id: string) {
  const rows = await h.deps.db
    .select()
    .from(authzTuples)
    .where(and(eq(authzTuples.entityType, type), eq(authzTuples.entityId, id)));
  return rows
    .map((t) => `${t.entityType}:${t.entityId}#${t.relation}@${t.subjectType}:${t.subjectId}`)
    .sort();
}

export async function tuplesAbout(h: Harness, type: string, id: string) {
  const rows = await h.deps.db
    .select()
    .from(authzTuples)
    .where(and(eq(authzTuples.subjectType, type), eq(authzTuples.subjectId, id)));
  return rows
    .map((t) => `${t.entityType}:${t.entityId}#${t.relation}@${t.subjectType}:${t.subjectId}`)
    .sort();
}

/** A service context acting as `user` (domain calls in race tests, beside the HTTP ones). */
export function actingAs(h: Harness, user: TestUser, requestId = "req_race"): ServiceContext {
  return {
    deps: h.deps,
    actor: { kind: "user", userId: user.user.id, sessionId: null },
    requestId,
  };
}
