import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiTokens } from "../../src/db/schema";
import { sha256Hex } from "../../src/lib/secrets";
import { createHarness } from "../support/harness";
import {
  asToken,
  auditRows,
  expectInvalid,
  expectProblem,
  mintToken,
  okJson,
  team,
  tuplesOf,
} from "./fixtures";

type TokenView = { id: string; role: string; lastUsedAt: number | null; revokedAt: number | null };

describe("API tokens", () => {
  it("mints a strato_ secret shown once, stored as SHA-256 with a display prefix and its tuples", async () => {
    const h = await createHarness();
    const t = await team(h);
    const token = await mintToken(t.member, t.org.id, { name: "ci", role: "member" });
    expect(token.secret).toMatch(/^strato_[A-Za-z0-9_-]{43}$/);
    expect(token.prefix).toBe(token.secret.slice(0, 13));
    const [row] = await h.deps.db.select().from(apiTokens).where(eq(apiTokens.id, token.id));
    expect(row?.tokenHash).toBe(await sha256Hex(token.secret));
    expect(JSON.stringify(row)).not.toContain(token.secret);
    expect(await tuplesOf(h, "api_token", token.id)).toEqual(
      [
        `api_token:${token.id}#creator@user:${t.member.user.id}`,
        `api_token:${token.id}#org@organization:${t.org.id}`,
      ].sort(),
    );
    expect(await tuplesOf(h, "organization", t.org.id)).toContain(
      `organization:${t.org.id}#member@api_token:${token.id}`,
    );
    const scoped = await mintToken(t.admin, t.org.id, { role: "admin", projectId: t.project.id });
    expect(await tuplesOf(h, "project", t.project.id)).toContain(
      `project:${t.project.id}#admin@api_token:${scoped.id}`,
    );
    const [event] = await auditRows(h, "api_token.create");
    expect(JSON.stringify(event)).not.toContain(token.secret);
  });

  it("works as a Bearer token, records last use, and acts within its role", async () => {
    const h = await createHarness();
    const t = await team(h);
    const token = await mintToken(t.member, t.org.id, { role: "viewer" });
    const call = asToken(h, token.secret);
    const me = await okJson<{ kind: string; token: { id: string; role: string } }>(
      await call("/api/v1/me"),
    );
    expect(me).toMatchObject({ kind: "api_token", token: { id: token.id, role: "viewer" } });
    expect((await call(`/api/v1/projects/${t.project.id}`)).status).toBe(200);
    await expectProblem(
      await call(`/api/v1/projects/${t.project.id}`, { method: "PATCH", json: { name: "x" } }),
      403,
      "forbidden",
    );
    const list = await okJson<{ items: TokenView[] }>(
      await t.member.request(`/api/v1/organizations/${t.org.id}/tokens`),
    );
    expect(list.items.find((i) => i.id === token.id)?.lastUsedAt).toBe(h.clock.now());
    // No CSRF token needed with a bearer token (no ambient credential).
    const org = await okJson<{ id: string }>(await call(`/api/v1/organizations/${t.org.id}`));
    expect(org.id).toBe(t.org.id);
  });

  it("refuses a role above the caller's own, owner tokens and bad input", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/tokens`;
    const post = (who: typeof t.member, json: object) =>
      who.request(path, { method: "POST", json: { name: "x", ...json } });
    const tooHigh = await expectProblem(
      await post(t.member, { role: "admin" }),
      403,
      "role_too_high",
    );
    expect(tooHigh.errors?.[0]).toMatchObject({ field: "role" });
    await expectProblem(await post(t.viewer, { role: "member" }), 403, "role_too_high");
    expect((await post(t.viewer, { role: "viewer" })).status).toBe(201);
    await expectInvalid(await post(t.owner, { role: "owner" }), "role");
    await expectInvalid(await post(t.owner, { role: "admin", name: "" }), "name");
    await expectInvalid(await post(t.owner, { role: "admin", projectId: "nope" }), "projectId");
    await expectInvalid(
      await post(t.owner, { role: "admin", expiresAt: h.clock.now() - 1 }),
      "expiresAt",
    );
    await expectProblem(await post(t.outsider, { role: "viewer" }), 404, "not_found");
    await expectProblem(
      await post(t.owner, { role: "viewer", projectId: "prj_01jd7x3k2m9q8r7s6t5v4w3x2y" }),
      404,
      "not_found",
    );
    // Project scope: an org member is a project member, not admin.
    await expectProblem(
      await post(t.member, { role: "admin", projectId: t.project.id }),
      403,
      "role_too_high",
    );
  });

  it("a token cannot mint a token with a higher role than its own", async () => {
    const h = await createHarness();
    const t = await team(h);
    const memberToken = await mintToken(t.owner, t.org.id, { role: "member" });
    const call = asToken(h, memberToken.secret);
    const path = `/api/v1/organizations/${t.org.id}/tokens`;
    await expectProblem(
      await call(path, { method: "POST", json: { name: "up", role: "admin" } }),
      403,
      "role_too_high",
    );
    const child = await okJson<{ id: string; role: string }>(
      await call(path, { method: "POST", json: { name: "down", role: "viewer" } }),
      201,
    );
    expect(child.role).toBe("viewer");
    // A project-scoped token cannot mint an organization-wide one.
    const scoped = await mintToken(t.owner, t.org.id, { role: "admin", projectId: t.project.id });
    await expectProblem(
      await asToken(h, scoped.secret)(path, {
        method: "POST",
        json: { name: "x", role: "viewer" },
      }),
      404,
      "not_found",
    );
    const [event] = (await auditRows(h, "api_token.create")).filter(
      (e) => e.actorId === memberToken.id,
    );
    expect(event).toMatchObject({
      actorType: "api_token",
      detail: expect.objectContaining({ onBehalfOf: t.owner.user.id }),
    });
  });

  it("demoting or removing someone on a project revokes their tokens for it that would outrank them", async () => {
    const h = await createHarness();
    const t = await team(h);
    const projectPath = `/api/v1/projects/${t.project.id}`;
    const member = (role: string) =>
      t.owner.request(`${projectPath}/members`, {
        method: "POST",
        json: { userId: t.viewer.user.id, role },
      });
    // An org viewer made admin of the project mints admin and member tokens for it.
    expect((await member("admin")).status).toBe(201);
    const admin = await mintToken(t.viewer, t.org.id, { role: "admin", projectId: t.project.id });
    const memberToken = await mintToken(t.viewer, t.org.id, {
      role: "member",
      projectId: t.project.id,
    });
    const viewerToken = await mintToken(t.viewer, t.org.id, { role: "viewer" });
    const works = async (secret: string) =>
      (await asToken(h, secret)(`${projectPath}/members`)).status;

    // Demoted to member: the admin token goes, in the same change, and is audited with it.
    const demoted = await t.owner.request(`${projectPath}/members/${t.viewer.user.id}`, {
      method: "PATCH",
      json: { role: "member" },
    });
    expect(demoted.status).toBe(200);
    await expectProblem(await asToken(h, admin.secret)("/api/v1/me"), 401, "token_revoked");
    expect(await works(memberToken.secret)).toBe(200);
    const [change] = await auditRows(h, "project_member.change_role");
    expect(change?.detail).toMatchObject({ revokedTokens: [admin.id] });

    // Removed: their project token goes too; what their org role covers stays.
    const removed = await t.owner.request(`${projectPath}/members/${t.viewer.user.id}`, {
      method: "DELETE",
    });
    expect(removed.status).toBe(204);
    await expectProblem(await asToken(h, memberToken.secret)("/api/v1/me"), 401, "token_revoked");
    expect(await works(viewerToken.secret)).toBe(200);
    expect(await tuplesOf(h, "project", t.project.id)).not.toContain(
      `project:${t.project.id}#member@api_token:${memberToken.id}`,
    );
  });

  it("a token's children live no longer than it: their expiry is capped, and revoking it revokes them", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/tokens`;
    const parent = await mintToken(t.member, t.org.id, {
      role: "member",
      expiresAt: h.clock.now() + 86_400_000,
    });
    const asParent = asToken(h, parent.secret);
    await expectInvalid(
      await asParent(path, {
        method: "POST",
        json: { name: "later", role: "viewer", expiresAt: h.clock.now() + 2 * 86_400_000 },
      }),
      "expiresAt",
    );
    const child = await okJson<{ id: string; secret: string; expiresAt: number | null }>(
      await asParent(path, { method: "POST", json: { name: "child", role: "viewer" } }),
      201,
    );
    expect(child.expiresAt).toBe(h.clock.now() + 86_400_000);
    const grandchild = await okJson<{ id: string; secret: string }>(
      await asToken(h, child.secret)(path, {
        method: "POST",
        json: { name: "gc", role: "viewer" },
      }),
      201,
    );
    const sibling = await mintToken(t.member, t.org.id, { role: "viewer" });
    expect(
      (await t.member.request(`/api/v1/tokens/${parent.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    for (const secret of [parent.secret, child.secret, grandchild.secret]) {
      await expectProblem(await asToken(h, secret)("/api/v1/me"), 401, "token_revoked");
    }
    expect(await tuplesOf(h, "organization", t.org.id)).not.toContain(
      `organization:${t.org.id}#viewer@api_token:${grandchild.id}`,
    );
    // A token the person minted themselves is not the parent's to take along.
    expect((await asToken(h, sibling.secret)("/api/v1/me")).status).toBe(200);
  });

  it("revoked and expired tokens get 401 token_revoked / token_expired", async () => {
    const h = await createHarness();
    const t = await team(h);
    const token = await mintToken(t.member, t.org.id, { role: "member" });
    const expiring = await mintToken(t.member, t.org.id, {
      role: "viewer",
      expiresAt: h.clock.now() + 60_000,
    });
    // Another member cannot see or revoke it; an admin can.
    const other = await mintToken(t.viewer, t.org.id, { role: "viewer" });
    await expectProblem(
      await t.member.request(`/api/v1/tokens/${other.id}`, { method: "DELETE" }),
      404,
      "not_found",
    );
    await expectProblem(
      await t.outsider.request(`/api/v1/tokens/${token.id}`, { method: "DELETE" }),
      404,
      "not_found",
    );
    await expectInvalid(
      await t.member.request("/api/v1/tokens/abc", { method: "DELETE" }),
      "tokenId",
      "path",
    );
    expect((await t.admin.request(`/api/v1/tokens/${other.id}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect(
      (await t.member.request(`/api/v1/tokens/${token.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    expect(
      (await t.member.request(`/api/v1/tokens/${token.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    expect((await auditRows(h, "api_token.revoke")).length).toBe(2);
    await expectProblem(await asToken(h, token.secret)("/api/v1/me"), 401, "token_revoked");
    expect(await tuplesOf(h, "organization", t.org.id)).not.toContain(
      `organization:${t.org.id}#member@api_token:${token.id}`,
    );
    expect((await asToken(h, expiring.secret)("/api/v1/me")).status).toBe(200);
    h.clock.advance(60_000);
    await expectProblem(await asToken(h, expiring.secret)("/api/v1/me"), 401, "token_expired");
    await expectProblem(await asToken(h, "strato_nope")("/api/v1/me"), 401, "token_invalid");
  });

  it("lists own tokens for members, all tokens for admins", async () => {
    const h = await createHarness();
    const t = await team(h);
    const mine = await mintToken(t.member, t.org.id, { role: "member" });
    const theirs = await mintToken(t.viewer, t.org.id, { role: "viewer" });
    const path = `/api/v1/organizations/${t.org.id}/tokens`;
    const asMember = await okJson<{ items: TokenView[] }>(await t.member.request(path));
    expect(asMember.items.map((i) => i.id)).toEqual([mine.id]);
    const asAdmin = await okJson<{ items: TokenView[] }>(await t.admin.request(path));
    expect(asAdmin.items.map((i) => i.id).sort()).toEqual([mine.id, theirs.id].sort());
    expect(JSON.stringify(asAdmin)).not.toContain("tokenHash");
    await expectProblem(await t.outsider.request(path), 404, "not_found");
  });
});
