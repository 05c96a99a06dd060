import { describe, expect, it } from "vitest";
import { findUsableInvitation } from "../../src/domain/orgs/accept-invitation";
import { sha256Hex } from "../../src/lib/secrets";
import { signedInUser } from "../support/actors";
import { createHarness } from "../support/harness";
import { auditRows, expectInvalid, expectProblem, okJson, team } from "./fixtures";

type Created = { id: string; url: string; email: string; role: string; expiresAt: number };

const DAY = 86_400_000;

describe("invitations", () => {
  it("creates a single-use link shown once, stored only as a hash, valid for 7 days", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/invitations`;
    const created = await okJson<Created>(
      await t.admin.request(path, {
        method: "POST",
        json: { email: "New@Example.test", role: "member" },
      }),
      201,
    );
    expect(created.email).toBe("new@example.test");
    expect(created.expiresAt).toBe(h.clock.now() + 7 * DAY);
    const prefix = `${h.deps.config.webauthn.origin}/invitations/`;
    expect(created.url.startsWith(prefix)).toBe(true);
    const secret = created.url.slice(prefix.length);
    const stored = await findUsableInvitation(h.deps, secret);
    expect(stored.tokenHash).toBe(await sha256Hex(secret));
    expect(JSON.stringify(stored)).not.toContain(secret);
    const pending = await okJson<{ items: { id: string; url?: string }[] }>(
      await t.admin.request(path),
    );
    expect(pending.items.map((i) => i.id)).toEqual([created.id]);
    expect(pending.items[0]?.url).toBeUndefined();
    const [event] = await auditRows(h, "invitation.create");
    expect(JSON.stringify(event)).not.toContain(secret);

    // The invitee accepts once; the second use is refused.
    const invitee = await signedInUser(h, { email: "new@example.test" });
    const accepted = await okJson<{ organization: { id: string; role: string } }>(
      await invitee.request("/api/v1/invitations/accept", {
        method: "POST",
        json: { token: secret },
      }),
    );
    expect(accepted.organization).toMatchObject({ id: t.org.id, role: "member" });
    expect((await invitee.request(`/api/v1/organizations/${t.org.id}/projects`)).status).toBe(200);
    const someoneElse = await signedInUser(h);
    await expectProblem(
      await someoneElse.request("/api/v1/invitations/accept", {
        method: "POST",
        json: { token: secret },
      }),
      410,
      "invitation_invalid",
    );
    expect((await okJson<{ items: unknown[] }>(await t.admin.request(path))).items).toEqual([]);
    expect((await auditRows(h, "invitation.accept")).length).toBe(1);
  });

  it("an invitation does not outlive its sender's authority: removed or demoted, their pending ones are withdrawn", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/invitations`;
    const invite = async (by: typeof t.owner, email: string, role: string) => {
      const c = await okJson<Created>(
        await by.request(path, { method: "POST", json: { email, role } }),
        201,
      );
      return c.url.split("/invitations/")[1] ?? "";
    };
    const accept = (token: string) =>
      signedInUser(h).then((who) =>
        who.request("/api/v1/invitations/accept", { method: "POST", json: { token } }),
      );
    // An admin's admin invitation, kept back; then the admin is removed.
    const byAdmin = await invite(t.admin, "kept@example.test", "admin");
    expect(
      (
        await t.owner.request(`/api/v1/organizations/${t.org.id}/members/${t.admin.user.id}`, {
          method: "DELETE",
        })
      ).status,
    ).toBe(204);
    await expectProblem(await accept(byAdmin), 410, "invitation_invalid");

    // A second owner invites an owner and a member, then is demoted to admin: only the owner
    // invitation goes.
    const coOwner = await signedInUser(h);
    const addOwner = await t.owner.request(path, {
      method: "POST",
      json: { email: coOwner.user.email, role: "owner" },
    });
    const ownerLink = ((await addOwner.json()) as Created).url.split("/invitations/")[1] ?? "";
    await okJson(
      await coOwner.request("/api/v1/invitations/accept", {
        method: "POST",
        json: { token: ownerLink },
      }),
    );
    const ownerInvite = await invite(coOwner, "boss@example.test", "owner");
    const memberInvite = await invite(coOwner, "staff@example.test", "member");
    expect(
      (
        await t.owner.request(`/api/v1/organizations/${t.org.id}/members/${coOwner.user.id}`, {
          method: "PATCH",
          json: { role: "admin" },
        })
      ).status,
    ).toBe(200);
    await expectProblem(await accept(ownerInvite), 410, "invitation_invalid");
    expect((await accept(memberInvite)).status).toBe(200);
  });

  it("refuses expired and revoked invitations with 410, members with 409", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/invitations`;
    const invite = async (email: string, extra: object = {}) => {
      const c = await okJson<Created>(
        await t.owner.request(path, { method: "POST", json: { email, role: "viewer", ...extra } }),
        201,
      );
      return { ...c, secret: c.url.split("/invitations/")[1] ?? "" };
    };
    const accept = (who: typeof t.outsider, token: string) =>
      who.request("/api/v1/invitations/accept", { method: "POST", json: { token } });

    const short = await invite("a@example.test", { expiresInDays: 1 });
    const week = await invite("b@example.test");
    const revoked = await invite("c@example.test");
    expect((await t.admin.request(`${path}/${revoked.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await accept(t.outsider, revoked.secret), 410, "invitation_invalid");
    await expectProblem(
      await t.admin.request(`${path}/${revoked.id}`, { method: "DELETE" }),
      409,
      "conflict",
    );
    await expectProblem(await accept(t.member, week.secret), 409, "already_member");
    await expectProblem(await accept(t.outsider, "x".repeat(43)), 410, "invitation_invalid");
    await expectProblem(
      await t.owner.request(path, {
        method: "POST",
        json: { email: t.member.user.email, role: "admin" },
      }),
      409,
      "already_member",
    );

    // Sessions idle out while the clock moves: people sign in again (fresh accounts here).
    h.clock.advance(DAY);
    await expectProblem(
      await accept(await signedInUser(h), short.secret),
      410,
      "invitation_invalid",
    );
    h.clock.advance(6 * DAY - 1);
    const late = await signedInUser(h);
    h.clock.advance(1);
    await expectProblem(await accept(late, week.secret), 410, "invitation_invalid");
  });

  it("checks permissions and input", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}/invitations`;
    const body = { email: "x@example.test", role: "member" };
    await expectProblem(
      await t.member.request(path, { method: "POST", json: body }),
      403,
      "forbidden",
    );
    await expectProblem(await t.member.request(path), 403, "forbidden");
    await expectProblem(
      await t.outsider.request(path, { method: "POST", json: body }),
      404,
      "not_found",
    );
    await expectProblem(
      await t.admin.request(path, { method: "POST", json: { ...body, role: "owner" } }),
      403,
      "forbidden",
    );
    expect(
      (await t.owner.request(path, { method: "POST", json: { ...body, role: "owner" } })).status,
    ).toBe(201);
    await expectInvalid(
      await t.admin.request(path, { method: "POST", json: { ...body, email: "nope" } }),
      "email",
    );
    await expectInvalid(
      await t.admin.request(path, { method: "POST", json: { ...body, expiresInDays: 90 } }),
      "expiresInDays",
    );
    await expectInvalid(
      await t.outsider.request("/api/v1/invitations/accept", {
        method: "POST",
        json: { token: "" },
      }),
      "token",
    );
    await expectInvalid(
      await t.admin.request(`${path}/bogus`, { method: "DELETE" }),
      "invitationId",
      "path",
    );
    await expectProblem(
      await t.admin.request(`${path}/inv_01jd7x3k2m9q8r7s6t5v4w3x2y`, { method: "DELETE" }),
      404,
      "not_found",
    );
    await expectProblem(
      await h.request("/api/v1/invitations/accept", {
        method: "POST",
        body: JSON.stringify({ token: "x".repeat(43) }),
        headers: { "content-type": "application/json" },
      }),
      401,
      "unauthenticated",
    );
    await expectProblem(await h.request(path), 401, "unauthenticated");
  });
});
