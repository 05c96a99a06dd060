import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, memberships, organizations, projects } from "../../src/db/schema";
import { signedInUser } from "../support/actors";
import { createHarness } from "../support/harness";
import { follow, get, html, post } from "../support/pages";
import { okJson, team } from "../tenancy/fixtures";

const HTMX = true;

describe("organization and project pages", () => {
  it("sends anonymous visitors to sign-in", async () => {
    const h = await createHarness();
    for (const path of ["/org", "/orgs/new", "/orgs/org_x", "/projects/prj_x", "/account/tokens"]) {
      const res = await h.request(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    }
  });

  it("creates an organization from the form: inline errors first, then a redirect and an audit event", async () => {
    const h = await createHarness();
    const user = await signedInUser(h, { name: "Ada" });
    expect(await html(await get(user, "/orgs/new"))).toContain('id="org-form"');

    const bad = await html(await post(user, "/orgs", { name: "", slug: "Not A Slug!" }, HTMX), 422);
    expect(bad).toContain('id="org-form"');
    expect(bad).toMatch(/id="field-name"[^>]*aria-invalid="true"/);
    expect(bad).not.toContain("<html");
    expect(await h.deps.db.select().from(organizations)).toEqual([]);

    const ok = await post(user, "/orgs", { name: "Acme Robotics" }, HTMX);
    expect(ok.status).toBe(204);
    const location = ok.headers.get("hx-redirect") ?? "";
    expect(location).toMatch(/^\/orgs\/org_/);
    const page = await html(await follow(h, user, ok, location));
    expect(page).toContain("Acme Robotics is ready");
    expect(page).toContain("New project");
    expect(page).toContain('id="invite-form"');

    const [event] = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "organization.create"));
    expect(event).toMatchObject({ actorId: user.user.id, outcome: "success" });

    // "/org" in the navigation now leads to it.
    const nav = await get(user, "/org");
    expect(nav.status).toBe(303);
    expect(nav.headers.get("location")).toBe(location);
  });

  it("shows each role only what it may do, and hides the organization from outsiders", async () => {
    const h = await createHarness();
    const t = await team(h);
    const ownerPage = await html(await get(t.owner, `/orgs/${t.org.id}`));
    expect(ownerPage).toContain('id="invite-form"');
    expect(ownerPage).toContain(`/orgs/${t.org.id}/projects/new`);
    expect(ownerPage).toContain(`/orgs/${t.org.id}/members/${t.viewer.user.id}/role`);

    const viewerPage = await html(await get(t.viewer, `/orgs/${t.org.id}`));
    expect(viewerPage).toContain(t.project.name);
    expect(viewerPage).not.toContain('id="invite-form"');
    expect(viewerPage).not.toContain(`/orgs/${t.org.id}/projects/new`);
    expect(viewerPage).not.toContain("/role");

    const outsider = await html(await get(t.outsider, `/orgs/${t.org.id}`), 404);
    expect(outsider).not.toContain(t.org.name);
    await html(await get(t.outsider, `/projects/${t.project.id}`), 404);
  });

  it("renames through the form; a viewer's attempt is refused with a message and changes nothing", async () => {
    const h = await createHarness();
    const t = await team(h);
    const refused = await post(t.viewer, `/orgs/${t.org.id}/rename`, { name: "Hijacked" });
    expect(refused.status).toBe(303);
    const back = await html(await follow(h, t.viewer, refused, `/orgs/${t.org.id}`));
    expect(back).toContain("You may not update this organization.");
    const [unchanged] = await h.deps.db
      .select()
      .from(organizations)
      .where(eq(organizations.id, t.org.id));
    expect(unchanged?.name).toBe(t.org.name);

    const ok = await post(t.admin, `/orgs/${t.org.id}/rename`, { name: "Acme Labs" });
    expect(ok.status).toBe(303);
    expect(await html(await follow(h, t.admin, ok, `/orgs/${t.org.id}`))).toContain("Acme Labs");
  });

  it("invites by link: shown once in place, accepted by a signed-in user, single use", async () => {
    const h = await createHarness();
    const t = await team(h);
    const bad = await html(
      await post(t.admin, `/orgs/${t.org.id}/invitations`, { email: "nope", role: "member" }, HTMX),
      422,
    );
    expect(bad).toMatch(/id="field-email"[^>]*aria-invalid="true"/);

    // An admin may not hand out ownership.
    const owner = await post(
      t.admin,
      `/orgs/${t.org.id}/invitations`,
      { email: "boss@example.test", role: "owner" },
      HTMX,
    );
    expect(owner.status).toBe(403);

    const created = await html(
      await post(
        t.admin,
        `/orgs/${t.org.id}/invitations`,
        { email: "grace@example.test", role: "member" },
        HTMX,
      ),
      201,
    );
    const url = /aria-label="Invitation link" value="([^"]+)"/.exec(created)?.[1] ?? "";
    expect(url).toMatch(/\/invitations\/[\w-]+$/);
    const path = new URL(url).pathname;
    expect(await html(await get(t.admin, `/orgs/${t.org.id}`))).toContain("grace@example.test");

    const grace = await signedInUser(h, { email: "grace@example.test", name: "Grace" });
    expect(await html(await get(grace, path))).toContain(t.org.name);
    const accepted = await post(grace, `${path}/accept`, {});
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get("location")).toBe(`/orgs/${t.org.id}`);
    const [membership] = await h.deps.db
      .select()
      .from(memberships)
      .where(and(eq(memberships.orgId, t.org.id), eq(memberships.userId, grace.user.id)));
    expect(membership?.role).toBe("member");

    // Used up: the link no longer works for anyone.
    const again = await get(t.outsider, path);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
  });

  it("creates, renames and deletes a project; a member cannot create one", async () => {
    const h = await createHarness();
    const t = await team(h);
    const denied = await post(t.member, `/orgs/${t.org.id}/projects`, { name: "Side" }, HTMX);
    expect(denied.status).toBe(403);

    const bad = await html(
      await post(t.owner, `/orgs/${t.org.id}/projects`, { name: "" }, HTMX),
      422,
    );
    expect(bad).toContain('id="project-form"');

    const ok = await post(t.owner, `/orgs/${t.org.id}/projects`, { name: "Data" }, HTMX);
    expect(ok.status).toBe(204);
    const location = ok.headers.get("hx-redirect") ?? "";
    expect(location).toMatch(/^\/projects\/prj_/);
    const projectId = location.split("/").pop() ?? "";
    expect(await html(await follow(h, t.owner, ok, location))).toContain("Data");

    const renamed = await post(t.owner, `/projects/${projectId}/rename`, { name: "Analytics" });
    expect(renamed.status).toBe(303);
    expect(await html(await get(t.owner, `/projects/${projectId}`))).toContain("Analytics");

    const deleted = await post(t.owner, `/projects/${projectId}/delete`, {});
    expect(deleted.status).toBe(303);
    expect(await h.deps.db.select().from(projects).where(eq(projects.id, projectId))).toEqual([]);
  });

  it("API tokens: the secret is shown once, the token works, and revoking it ends it", async () => {
    const h = await createHarness();
    const t = await team(h);
    const tokens = `/account/tokens?org=${t.org.id}`;
    expect(await html(await get(t.admin, tokens))).toContain('name="expiresInDays"');

    const tooHigh = await post(t.member, tokens, { name: "ci", role: "owner" }, HTMX);
    expect(tooHigh.status).toBeGreaterThanOrEqual(400);
    expect(tooHigh.status).toBeLessThan(500);
    for (const name of ["", "   ", "x".repeat(101)]) {
      const bad = await post(t.admin, tokens, { name, role: "viewer" }, HTMX);
      expect(bad.status, JSON.stringify(name)).toBe(422);
      expect(await bad.text()).toContain("1 to 100 characters");
    }

    const answer = await post(
      t.admin,
      tokens,
      { name: "ci", role: "viewer", expiresInDays: "30" },
      HTMX,
    );
    // Shown once: no browser or proxy cache keeps the answer (nor any private page or API answer).
    expect(answer.headers.get("cache-control")).toBe("no-store");
    const created = await html(answer, 201);
    const secret = /(strato_[A-Za-z0-9_-]{40,})/.exec(created)?.[1] ?? "";
    expect(secret).not.toBe("");
    const me = await h.request("/api/v1/me", { headers: { authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    expect(me.headers.get("cache-control")).toBe("no-store");
    expect((await get(t.admin, tokens)).headers.get("cache-control")).toBe("no-store");
    expect(await html(await get(t.admin, tokens))).not.toContain(secret);

    const listed = await okJson<{ items: { id: string; name: string }[] }>(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/tokens`),
    );
    const id = listed.items.find((i) => i.name === "ci")?.id ?? "";
    const revoked = await post(t.admin, `/account/tokens/${id}/revoke?org=${t.org.id}`, {});
    expect(revoked.status).toBe(303);
    const after = await h.request("/api/v1/me", { headers: { authorization: `Bearer ${secret}` } });
    expect(after.status).toBe(401);
  });
});
