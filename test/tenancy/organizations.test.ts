import { describe, expect, it } from "vitest";
import { signedInUser } from "../support/actors";
import { createHarness } from "../support/harness";
import {
  addMember,
  auditRows,
  createOrg,
  createProject,
  expectInvalid,
  expectProblem,
  type Org,
  okJson,
  team,
  tuplesOf,
} from "./fixtures";

describe("organizations", () => {
  it("creates an organization whose creator is owner, with its tuples and an audit event", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h);
    const res = await ada.request("/api/v1/organizations", {
      method: "POST",
      json: { name: "Acme Corp" },
    });
    const org = await okJson<Org>(res, 201);
    expect(org).toMatchObject({ name: "Acme Corp", slug: "acme-corp", role: "owner" });
    expect(await tuplesOf(h, "organization", org.id)).toEqual(
      [
        `organization:${org.id}#owner@user:${ada.user.id}`,
        `organization:${org.id}#platform@platform:strato`,
      ].sort(),
    );
    const [event] = await auditRows(h, "organization.create");
    expect(event).toMatchObject({
      actorType: "user",
      actorId: ada.user.id,
      targetType: "organization",
      targetId: org.id,
      orgId: org.id,
      outcome: "success",
      requestId: res.headers.get("x-request-id"),
    });
    // A derived slug that is taken gets a suffix; an explicit one is refused.
    const again = await createOrg(ada, "Acme Corp");
    expect(again.slug).toMatch(/^acme-corp-[0-9a-z]{5}$/);
    const clash = await ada.request("/api/v1/organizations", {
      method: "POST",
      json: { name: "Other", slug: "acme-corp" },
    });
    await expectProblem(clash, 409, "slug_taken");
  });

  it("refuses bad input with 422 naming the field, and anonymous callers with 401", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h);
    const org = await createOrg(ada);
    await expectInvalid(
      await ada.request("/api/v1/organizations", { method: "POST", json: { name: "" } }),
      "name",
    );
    await expectInvalid(
      await ada.request("/api/v1/organizations", {
        method: "POST",
        json: { name: "x", slug: "Not A Slug" },
      }),
      "slug",
    );
    await expectInvalid(
      await ada.request(`/api/v1/organizations/${org.id}`, { method: "PATCH", json: {} }),
      "name",
    );
    await expectInvalid(await ada.request("/api/v1/organizations/nope"), "orgId", "path");
    for (const [method, path] of [
      ["GET", "/api/v1/organizations"],
      ["POST", "/api/v1/organizations"],
      ["GET", `/api/v1/organizations/${org.id}`],
      ["PATCH", `/api/v1/organizations/${org.id}`],
      ["DELETE", `/api/v1/organizations/${org.id}`],
      ["GET", "/api/v1/me"],
    ] as const) {
      const res = await h.request(path, {
        method,
        ...(method === "GET" || method === "DELETE"
          ? {}
          : { body: "{}", headers: { "content-type": "application/json" } }),
      });
      await expectProblem(res, 401, "unauthenticated");
    }
  });

  it("lists only the organizations the caller may see, with their role", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h);
    const bob = await signedInUser(h);
    const a = await createOrg(ada, "Alpha");
    const b = await createOrg(bob, "Beta");
    await addMember(h, b.id, ada, "viewer");
    await createOrg(bob, "Gamma");
    const list = await okJson<{ items: Org[] }>(await ada.request("/api/v1/organizations"));
    expect(list.items.map((o) => [o.id, o.role])).toEqual([
      [a.id, "owner"],
      [b.id, "viewer"],
    ]);
    const me = await okJson<{ kind: string; user: { id: string } }>(
      await ada.request("/api/v1/me"),
    );
    expect(me).toMatchObject({ kind: "user", user: { id: ada.user.id }, token: null });
  });

  it("renames for owners and admins; 403 for members who see it, 404 for outsiders", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}`;
    const renamed = await okJson<Org>(
      await t.admin.request(path, { method: "PATCH", json: { name: "Acme 2", slug: "acme-2" } }),
    );
    expect(renamed).toMatchObject({ name: "Acme 2", slug: "acme-2", role: "admin" });
    await expectProblem(
      await t.member.request(path, { method: "PATCH", json: { name: "x" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.outsider.request(path, { method: "PATCH", json: { name: "x" } }),
      404,
      "not_found",
    );
    await expectProblem(await t.outsider.request(path), 404, "not_found");
    expect((await t.viewer.request(path)).status).toBe(200);
  });

  it("deletes only when empty, and a refused delete leaves rows and tuples intact", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}`;
    const before = await tuplesOf(h, "organization", t.org.id);
    await expectProblem(await t.admin.request(path, { method: "DELETE" }), 403, "forbidden");
    await expectProblem(await t.owner.request(path, { method: "DELETE" }), 409, "not_empty");
    expect(await tuplesOf(h, "organization", t.org.id)).toEqual(before);
    expect((await t.member.request(path)).status).toBe(200);
    expect((await auditRows(h, "organization.delete")).map((e) => e.outcome)).toEqual([
      "denied",
      "failure",
    ]);

    const del = await t.owner.request(`/api/v1/projects/${t.project.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await t.owner.request(path, { method: "DELETE" })).status).toBe(204);
    expect(await tuplesOf(h, "organization", t.org.id)).toEqual([]);
    await expectProblem(await t.owner.request(path), 404, "not_found");
    expect(
      (await auditRows(h, "organization.delete")).filter((e) => e.outcome === "success"),
    ).toMatchObject([{ actorId: t.owner.user.id, targetId: t.org.id }]);
  });

  it("lists projects an organization member can see", async () => {
    const h = await createHarness();
    const t = await team(h);
    const other = await createProject(t.owner, t.org.id, "Other");
    const list = await okJson<{ items: { id: string }[] }>(
      await t.viewer.request(`/api/v1/organizations/${t.org.id}/projects`),
    );
    expect(list.items.map((p) => p.id).sort()).toEqual([t.project.id, other.id].sort());
  });
});
