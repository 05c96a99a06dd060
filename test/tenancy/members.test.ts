import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiTokens } from "../../src/db/schema";
import { createHarness } from "../support/harness";
import {
  addMember,
  asToken,
  auditRows,
  expectInvalid,
  expectProblem,
  mintToken,
  okJson,
  team,
  tuplesAbout,
} from "./fixtures";

type Member = { userId: string; role: string; email: string };

describe("organization members", () => {
  it("lists members for everyone who can see the organization, not for outsiders", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/members`;
    const list = await okJson<{ items: Member[] }>(await t.viewer.request(path));
    expect(list.items.map((m) => [m.userId, m.role])).toEqual([
      [t.owner.user.id, "owner"],
      [t.admin.user.id, "admin"],
      [t.member.user.id, "member"],
      [t.viewer.user.id, "viewer"],
    ]);
    await expectProblem(await t.outsider.request(path), 404, "not_found");
  });

  it("admins change roles; a member cannot; an admin cannot make someone owner", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = (u: { user: { id: string } }) =>
      `/api/v1/organizations/${t.org.id}/members/${u.user.id}`;
    const changed = await okJson<Member>(
      await t.admin.request(path(t.viewer), { method: "PATCH", json: { role: "member" } }),
    );
    expect(changed.role).toBe("member");
    expect(await tuplesAbout(h, "user", t.viewer.user.id)).toContain(
      `organization:${t.org.id}#member@user:${t.viewer.user.id}`,
    );
    expect(await tuplesAbout(h, "user", t.viewer.user.id)).not.toContain(
      `organization:${t.org.id}#viewer@user:${t.viewer.user.id}`,
    );
    await expectProblem(
      await t.member.request(path(t.viewer), { method: "PATCH", json: { role: "admin" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.admin.request(path(t.member), { method: "PATCH", json: { role: "owner" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.admin.request(path(t.owner), { method: "PATCH", json: { role: "viewer" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.outsider.request(path(t.member), { method: "PATCH", json: { role: "viewer" } }),
      404,
      "not_found",
    );
    await expectInvalid(
      await t.owner.request(path(t.member), { method: "PATCH", json: { role: "god" } }),
      "role",
    );
    await expectInvalid(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/members/bob`, {
        method: "PATCH",
        json: { role: "viewer" },
      }),
      "userId",
      "path",
    );
    await expectProblem(
      await t.owner.request(path(t.outsider), { method: "PATCH", json: { role: "viewer" } }),
      404,
      "not_found",
    );
    // Owners may promote to owner; then the first owner may step down.
    await okJson(
      await t.owner.request(path(t.admin), { method: "PATCH", json: { role: "owner" } }),
    );
    await okJson(
      await t.owner.request(path(t.owner), { method: "PATCH", json: { role: "admin" } }),
    );
  });

  it("keeps at least one owner: the last owner cannot be demoted, removed or leave", async () => {
    const h = await createHarness();
    const t = await team(h);
    const self = `/api/v1/organizations/${t.org.id}/members/${t.owner.user.id}`;
    await expectProblem(
      await t.owner.request(self, { method: "PATCH", json: { role: "admin" } }),
      409,
      "last_owner",
    );
    await expectProblem(await t.owner.request(self, { method: "DELETE" }), 409, "last_owner");
    await expectProblem(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/leave`, { method: "POST" }),
      409,
      "last_owner",
    );
    const list = await okJson<{ items: Member[] }>(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/members`),
    );
    expect(list.items.find((m) => m.userId === t.owner.user.id)?.role).toBe("owner");
  });

  it("removing a member takes their access and revokes the tokens they minted there", async () => {
    const h = await createHarness();
    const t = await team(h);
    const token = await mintToken(t.member, t.org.id, { role: "member" });
    const projectToken = await mintToken(t.member, t.org.id, {
      role: "viewer",
      projectId: t.project.id,
    });
    await okJson(
      await t.admin.request(`/api/v1/projects/${t.project.id}/members`, {
        method: "POST",
        json: { userId: t.member.user.id, role: "admin" },
      }),
      201,
    );
    const res = await t.admin.request(
      `/api/v1/organizations/${t.org.id}/members/${t.member.user.id}`,
      { method: "DELETE" },
    );
    expect(res.status).toBe(204);
    await expectProblem(
      await t.member.request(`/api/v1/organizations/${t.org.id}`),
      404,
      "not_found",
    );
    expect(await tuplesAbout(h, "user", t.member.user.id)).toEqual(
      [
        `api_token:${token.id}#creator@user:${t.member.user.id}`,
        `api_token:${projectToken.id}#creator@user:${t.member.user.id}`,
        `platform:strato#member@user:${t.member.user.id}`,
      ].sort(),
    );
    const call = asToken(h, token.secret);
    await expectProblem(await call(`/api/v1/organizations/${t.org.id}`), 401, "token_revoked");
    const rows = await h.deps.db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.createdBy, t.member.user.id));
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
    const [event] = await auditRows(h, "member.remove");
    expect(event?.detail).toMatchObject({ role: "member" });
  });

  it("members leave on their own; tokens cannot leave for them", async () => {
    const h = await createHarness();
    const t = await team(h);
    const token = await mintToken(t.viewer, t.org.id, { role: "viewer" });
    await expectProblem(
      await asToken(h, token.secret)(`/api/v1/organizations/${t.org.id}/leave`, { method: "POST" }),
      403,
      "forbidden",
    );
    expect(
      (await t.viewer.request(`/api/v1/organizations/${t.org.id}/leave`, { method: "POST" }))
        .status,
    ).toBe(204);
    await expectProblem(
      await t.viewer.request(`/api/v1/organizations/${t.org.id}/leave`, { method: "POST" }),
      404,
      "not_found",
    );
    await expectProblem(await asToken(h, token.secret)("/api/v1/me"), 401, "token_revoked");
    // A second owner lets the first one leave.
    await addMember(h, t.org.id, t.outsider, "owner");
    expect(
      (await t.owner.request(`/api/v1/organizations/${t.org.id}/leave`, { method: "POST" })).status,
    ).toBe(204);
  });

  it("demoting someone revokes their tokens that now outrank them", async () => {
    const h = await createHarness();
    const t = await team(h);
    const adminToken = await mintToken(t.admin, t.org.id, { role: "admin" });
    const viewerToken = await mintToken(t.admin, t.org.id, { role: "viewer" });
    await okJson(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/members/${t.admin.user.id}`, {
        method: "PATCH",
        json: { role: "member" },
      }),
    );
    await expectProblem(await asToken(h, adminToken.secret)("/api/v1/me"), 401, "token_revoked");
    expect((await asToken(h, viewerToken.secret)("/api/v1/me")).status).toBe(200);
  });
});
