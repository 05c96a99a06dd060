import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { authzTuples, memberships, organizations } from "../../src/db/schema";
import { commit, type ServiceContext } from "../../src/domain/context";
import { ServiceError } from "../../src/domain/errors";
import { createUserStatements } from "../../src/domain/identity/users";
import {
  acceptInvitationStatements,
  findUsableInvitation,
} from "../../src/domain/orgs/accept-invitation";
import { createOrganization } from "../../src/domain/orgs/create-organization";
import { commitKeepingAnOwner } from "../../src/domain/orgs/shared";
import { writeTuples } from "../../src/domain/relationships";
import { createHarness } from "../support/harness";
import {
  actingAs,
  auditRows,
  expectProblem,
  okJson,
  team,
  tuplesAbout,
  tuplesOf,
} from "./fixtures";

describe("CSRF on cookie requests", () => {
  it("refuses a mutation without the X-CSRF-Token header or from a foreign origin", async () => {
    const h = await createHarness();
    const t = await team(h);
    const path = `/api/v1/organizations/${t.org.id}`;
    const body = JSON.stringify({ name: "Hijacked" });
    const noToken = await h.request(path, {
      method: "PATCH",
      body,
      headers: {
        cookie: t.owner.cookie,
        origin: h.deps.config.webauthn.origin,
        "content-type": "application/json",
      },
    });
    await expectProblem(noToken, 403, "csrf_failed");
    const foreign = await h.request(path, {
      method: "PATCH",
      body,
      headers: {
        cookie: t.owner.cookie,
        origin: "https://evil.example",
        "x-csrf-token": t.owner.csrfToken,
        "content-type": "application/json",
      },
    });
    await expectProblem(foreign, 403, "csrf_failed");
    const org = await okJson<{ name: string }>(await t.owner.request(path));
    expect(org.name).toBe("Acme");
    expect(await auditRows(h, "organization.update")).toEqual([]);
  });
});

describe("nothing is half-written", () => {
  it("a batch that fails on its last statements leaves no row and no tuple behind", async () => {
    const h = await createHarness();
    // A subject who may create organizations but has no account row: the membership insert
    // (after the organization row and before the tuples) violates its foreign key.
    const ghost = "usr_ghost";
    const system: ServiceContext = { deps: h.deps, actor: { kind: "system" }, requestId: "t" };
    await commit(
      h.deps.db,
      writeTuples(system, [
        {
          entity: { type: "platform", id: "strato" },
          relation: "member",
          subject: { type: "user", id: ghost },
        },
      ]),
    );
    const sc: ServiceContext = {
      deps: h.deps,
      actor: { kind: "user", userId: ghost, sessionId: null },
      requestId: "req_test",
    };
    await expect(createOrganization(sc, { name: "Half" })).rejects.toThrow();
    expect(await h.deps.db.select().from(organizations)).toEqual([]);
    expect(await h.deps.db.select().from(memberships)).toEqual([]);
    expect(await tuplesAbout(h, "user", ghost)).toEqual([`platform:strato#member@user:${ghost}`]);
    expect(await auditRows(h)).toEqual([]);
  });

  it("a refused member removal leaves the membership, tuples and tokens intact", async () => {
    const h = await createHarness();
    const t = await team(h);
    const before = await tuplesOf(h, "organization", t.org.id);
    await expectProblem(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/members/${t.owner.user.id}`, {
        method: "DELETE",
      }),
      409,
      "last_owner",
    );
    expect(await tuplesOf(h, "organization", t.org.id)).toEqual(before);
    expect((await t.owner.request(`/api/v1/organizations/${t.org.id}`)).status).toBe(200);
    expect((await h.deps.db.select().from(authzTuples)).length).toBeGreaterThan(0);
  });
});

describe("at least one owner, even under concurrency", () => {
  it("a batch that would leave no owner fails as a whole with last_owner", async () => {
    const h = await createHarness();
    const t = await team(h);
    // What two owners demoting each other at the same time would commit last: both checks passed
    // while the other was still owner, but the batch sees the state it would leave.
    const sc = actingAs(h, t.owner);
    const demote = h.deps.db
      .update(memberships)
      .set({ role: "admin" })
      .where(eq(memberships.userId, t.owner.user.id));
    await expect(commitKeepingAnOwner(sc, t.org.id, [demote])).rejects.toSatisfy(
      (e: unknown) => e instanceof ServiceError && e.reason === "last_owner",
    );
    const [row] = await h.deps.db
      .select()
      .from(memberships)
      .where(eq(memberships.userId, t.owner.user.id));
    expect(row?.role).toBe("owner");
    // With another owner in place the same batch goes through.
    await commitKeepingAnOwner(sc, t.org.id, [
      h.deps.db
        .update(memberships)
        .set({ role: "owner" })
        .where(eq(memberships.userId, t.admin.user.id)),
      demote,
    ]);
  });
});

describe("invitations in the sign-up flow", () => {
  it("findUsableInvitation + acceptInvitationStatements add a brand-new account in one batch", async () => {
    const h = await createHarness();
    const t = await team(h);
    const created = await okJson<{ url: string }>(
      await t.owner.request(`/api/v1/organizations/${t.org.id}/invitations`, {
        method: "POST",
        json: { email: "fresh@example.test", role: "viewer" },
      }),
      201,
    );
    const secret = created.url.split("/invitations/")[1] ?? "";
    const invitation = await findUsableInvitation(h.deps, secret);
    expect(await findUsableInvitation(h.deps, { id: invitation.id })).toEqual(invitation);
    const userId = h.deps.ids.next("user");
    const sc: ServiceContext = {
      deps: h.deps,
      actor: { kind: "user", userId, sessionId: null },
      requestId: "req_signup",
    };
    const now = h.clock.now();
    await commit(h.deps.db, [
      ...createUserStatements(sc, {
        id: userId,
        email: "fresh@example.test",
        displayName: "Fresh",
        isPlatformAdmin: false,
        createdAt: now,
        updatedAt: now,
      }),
      ...acceptInvitationStatements(sc, invitation, userId),
    ]);
    const [membership] = await h.deps.db
      .select()
      .from(memberships)
      .where(eq(memberships.userId, userId));
    expect(membership).toMatchObject({ orgId: t.org.id, role: "viewer" });
    expect(await tuplesAbout(h, "user", userId)).toContain(
      `organization:${t.org.id}#viewer@user:${userId}`,
    );
    await expect(findUsableInvitation(h.deps, secret)).rejects.toSatisfy(
      (e: unknown) => e instanceof ServiceError && e.reason === "invitation_invalid",
    );
    // Replaying the statements (a second use racing the first) adds nothing.
    const other = h.deps.ids.next("user");
    await commit(h.deps.db, [
      ...createUserStatements(sc, {
        id: other,
        email: "other@example.test",
        displayName: "Other",
        isPlatformAdmin: false,
        createdAt: now,
        updatedAt: now,
      }),
      ...acceptInvitationStatements(sc, invitation, other),
    ]);
    expect(await h.deps.db.select().from(memberships).where(eq(memberships.userId, other))).toEqual(
      [],
    );
    expect(await tuplesAbout(h, "user", other)).toEqual([`platform:strato#member@user:${other}`]);
    const accepted = await auditRows(h, "invitation.accept");
    expect(accepted).toMatchObject([
      {
        actorId: userId,
        targetId: invitation.id,
        orgId: t.org.id,
        requestId: "req_signup",
        detail: { email: "fresh@example.test", role: "viewer", userId },
      },
    ]);
  });
});
