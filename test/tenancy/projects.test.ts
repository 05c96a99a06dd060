import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";
import {
  auditRows,
  createProject,
  expectInvalid,
  expectProblem,
  okJson,
  type Project,
  team,
  tuplesOf,
} from "./fixtures";

type PMember = { userId: string; role: string };

describe("projects", () => {
  it("creates with the org tuple, renames, and deletes when empty", async () => {
    const h = await createHarness();
    const t = await team(h);
    const p = await createProject(t.admin, t.org.id, "API Servers");
    expect(p).toMatchObject({ orgId: t.org.id, slug: "api-servers", name: "API Servers" });
    expect(await tuplesOf(h, "project", p.id)).toEqual([
      `project:${p.id}#org@organization:${t.org.id}`,
    ]);
    const renamed = await okJson<Project>(
      await t.admin.request(`/api/v1/projects/${p.id}`, { method: "PATCH", json: { name: "API" } }),
    );
    expect(renamed).toMatchObject({ name: "API", slug: "api-servers" });
    await expectProblem(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/projects`, {
        method: "POST",
        json: { name: "x", slug: "api-servers" },
      }),
      409,
      "slug_taken",
    );
    expect((await t.admin.request(`/api/v1/projects/${p.id}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect(await tuplesOf(h, "project", p.id)).toEqual([]);
    await expectProblem(await t.admin.request(`/api/v1/projects/${p.id}`), 404, "not_found");
    expect((await auditRows(h)).map((e) => e.action)).toEqual(
      expect.arrayContaining(["project.create", "project.update", "project.delete"]),
    );
  });

  it("permissions: members see but cannot change; outsiders get 404; bad input 422", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/projects/${t.project.id}`;
    expect((await t.viewer.request(path)).status).toBe(200);
    await expectProblem(
      await t.member.request(path, { method: "PATCH", json: { name: "x" } }),
      403,
      "forbidden",
    );
    await expectProblem(await t.member.request(path, { method: "DELETE" }), 403, "forbidden");
    await expectProblem(
      await t.member.request(`/api/v1/organizations/${t.org.id}/projects`, {
        method: "POST",
        json: { name: "x" },
      }),
      403,
      "forbidden",
    );
    await expectProblem(await t.outsider.request(path), 404, "not_found");
    await expectProblem(await t.outsider.request(path, { method: "DELETE" }), 404, "not_found");
    await expectProblem(
      await t.outsider.request(`/api/v1/organizations/${t.org.id}/projects`),
      404,
      "not_found",
    );
    await expectInvalid(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/projects`, {
        method: "POST",
        json: { name: "   " },
      }),
      "name",
    );
    await expectInvalid(await t.admin.request("/api/v1/projects/xyz"), "projectId", "path");
    await expectInvalid(
      await t.admin.request(path, { method: "PATCH", json: { slug: "-bad-" } }),
      "slug",
    );
    await expectProblem(await h.request(path), 401, "unauthenticated");
  });

  it("project roles: add an org member, change, remove; project-only access is limited", async () => {
    const h = await createHarness();
    const t = await team(h);
    const other = await createProject(t.owner, t.org.id, "Other");
    const members = `/api/v1/projects/${t.project.id}/members`;
    // The viewer gets admin on one project only.
    const added = await okJson<PMember>(
      await t.admin.request(members, {
        method: "POST",
        json: { userId: t.viewer.user.id, role: "admin" },
      }),
      201,
    );
    expect(added.role).toBe("admin");
    expect(await tuplesOf(h, "project", t.project.id)).toContain(
      `project:${t.project.id}#admin@user:${t.viewer.user.id}`,
    );
    expect(
      (
        await t.viewer.request(`/api/v1/projects/${t.project.id}`, {
          method: "PATCH",
          json: { name: "Web!" },
        })
      ).status,
    ).toBe(200);
    await expectProblem(
      await t.viewer.request(`/api/v1/projects/${other.id}`, {
        method: "PATCH",
        json: { name: "x" },
      }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.admin.request(members, {
        method: "POST",
        json: { userId: t.viewer.user.id, role: "member" },
      }),
      409,
      "already_member",
    );
    await expectInvalid(
      await t.admin.request(members, {
        method: "POST",
        json: { userId: t.outsider.user.id, role: "member" },
      }),
      "userId",
    );
    await expectInvalid(
      await t.admin.request(members, {
        method: "POST",
        json: { userId: t.member.user.id, role: "owner" },
      }),
      "role",
    );
    await expectProblem(
      await t.member.request(members, {
        method: "POST",
        json: { userId: t.member.user.id, role: "admin" },
      }),
      403,
      "forbidden",
    );
    const changed = await okJson<PMember>(
      await t.admin.request(`${members}/${t.viewer.user.id}`, {
        method: "PATCH",
        json: { role: "member" },
      }),
    );
    expect(changed.role).toBe("member");
    expect(await tuplesOf(h, "project", t.project.id)).not.toContain(
      `project:${t.project.id}#admin@user:${t.viewer.user.id}`,
    );
    const list = await okJson<{ items: PMember[] }>(await t.viewer.request(members));
    expect(list.items).toEqual([
      expect.objectContaining({ userId: t.viewer.user.id, role: "member" }),
    ]);
    await expectProblem(await t.outsider.request(members), 404, "not_found");
    expect(
      (await t.admin.request(`${members}/${t.viewer.user.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    await expectProblem(
      await t.admin.request(`${members}/${t.viewer.user.id}`, { method: "DELETE" }),
      404,
      "not_found",
    );
    await expectProblem(
      await t.viewer.request(`/api/v1/projects/${t.project.id}`, {
        method: "PATCH",
        json: { name: "x" },
      }),
      403,
      "forbidden",
    );
  });

  it("lists only the projects the caller may see", async () => {
    const h = await createHarness();
    const t = await team(h);
    const second = await createProject(t.owner, t.org.id, "Second");
    const elsewhere = await createProject(
      t.owner,
      (
        await okJson<{ id: string }>(
          await t.owner.request("/api/v1/organizations", {
            method: "POST",
            json: { name: "Elsewhere" },
          }),
          201,
        )
      ).id,
      "Hidden",
    );
    const list = await okJson<{ items: Project[] }>(
      await t.member.request(`/api/v1/organizations/${t.org.id}/projects`),
    );
    expect(list.items.map((p) => p.id).sort()).toEqual([t.project.id, second.id].sort());
    expect(list.items.map((p) => p.id)).not.toContain(elsewhere.id);
  });
});
