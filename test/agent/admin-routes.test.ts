import { describe, expect, it } from "vitest";
import { signedInUser } from "../support/actors";
import { createHarness } from "../support/harness";
import { accessToken, call, enrollHost, problem } from "./support";

describe("host admin routes (/api/v1)", () => {
  it("an org admin creates, lists and revokes enrollment tokens, then lists and approves hosts", async () => {
    const h = await createHarness();
    const owner = await signedInUser(h);
    const created = await owner.request("/api/v1/organizations", {
      method: "POST",
      json: { name: "Acme" },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const org = (await created.json()) as { id: string };

    const mint = await owner.request(`/api/v1/organizations/${org.id}/enrollment-tokens`, {
      method: "POST",
      json: { description: "rack 1", maxUses: 2 },
    });
    expect(mint.status, await mint.clone().text()).toBe(201);
    const token = (await mint.json()) as {
      id: string;
      secret: string;
      expiresAt: number;
      createdAt: number;
    };
    expect(token.secret).toMatch(/^strato_enr_/);
    expect(token.expiresAt - token.createdAt).toBe(24 * 3_600_000);

    const listed = await owner.request(`/api/v1/organizations/${org.id}/enrollment-tokens`);
    const tokens = (await listed.json()) as { items: { id: string }[] };
    expect(tokens.items.map((t) => t.id)).toEqual([token.id]);
    expect(JSON.stringify(tokens)).not.toContain(token.secret);

    const { res, key } = await enrollHost(h, token.secret);
    const { host_id: hostId } = (await res.json()) as { host_id: string };
    const hosts = await owner.request(`/api/v1/organizations/${org.id}/hosts`);
    expect(await hosts.json()).toMatchObject({
      items: [{ id: hostId, state: "pending", health: "pending" }],
    });

    // A stranger sees nothing.
    const stranger = await signedInUser(h);
    await problem(
      await stranger.request(`/api/v1/hosts/${hostId}/approve`, { method: "POST" }),
      404,
      "not_found",
    );
    await problem(
      await stranger.request(`/api/v1/organizations/${org.id}/hosts`),
      404,
      "not_found",
    );

    const approved = await owner.request(`/api/v1/hosts/${hostId}/approve`, { method: "POST" });
    expect(approved.status, await approved.clone().text()).toBe(200);
    expect(await approved.json()).toMatchObject({
      id: hostId,
      state: "approved",
      health: "discovering",
    });
    const agent = await accessToken(h, key, hostId);
    expect((await call(h, "/heartbeat", { token: agent, body: {} })).status).toBe(200);

    const drained = await owner.request(`/api/v1/hosts/${hostId}/maintenance`, {
      method: "PUT",
      json: { enabled: true },
    });
    expect(await drained.json()).toMatchObject({ maintenance: true });

    const revoke = await owner.request(
      `/api/v1/organizations/${org.id}/enrollment-tokens/${token.id}`,
      { method: "DELETE" },
    );
    expect(revoke.status).toBe(204);
    await problem((await enrollHost(h, token.secret)).res, 401, "invalid_enrollment_token");

    const revoked = await owner.request(`/api/v1/hosts/${hostId}/revoke`, { method: "POST" });
    expect(await revoked.json()).toMatchObject({ state: "revoked" });
    await problem(await call(h, "/heartbeat", { token: agent, body: {} }), 403, "host_revoked");
    await problem(
      await owner.request(`/api/v1/hosts/${hostId}/approve`, { method: "POST" }),
      409,
      "conflict",
    );
  });

  it("needs a signed-in caller and valid input", async () => {
    const h = await createHarness();
    const anon = await h.request("/api/v1/organizations/org_01jd7x0000aaaaaaaaaaaaaaaa/hosts");
    expect(anon.status).toBe(401);
    const owner = await signedInUser(h);
    const created = await owner.request("/api/v1/organizations", {
      method: "POST",
      json: { name: "Acme" },
    });
    const org = (await created.json()) as { id: string };
    const bad = await owner.request(`/api/v1/organizations/${org.id}/enrollment-tokens`, {
      method: "POST",
      json: { description: "", maxUses: 0 },
    });
    await problem(bad, 422, "validation_failed");
  });
});
