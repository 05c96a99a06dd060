import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { setOutboxSync } from "../../src/authz/outbox";
import { PermifyRestAuthorizer } from "../../src/authz/permify-rest";
import { entityTypesOf, prepareAuthorizer, syncAuthorizer } from "../../src/authz/sync";
import { commit } from "../../src/domain/context";
import { deleteTuples, writeTuples } from "../../src/domain/relationships";
import { signedInUser } from "../support/actors";
import { createHarness, type Harness, STRATO_SCHEMA } from "../support/harness";
import { startPermifyRest } from "../support/permify-rest-server";

const AUTH = { tenant: "t1", apiKey: "outbox-key" };
const noSleep = () => Promise.resolve();

/** A harness whose authorizer is a Permify server (a stand-in over loopback REST). */
async function withPermify() {
  const server = await startPermifyRest(AUTH);
  const remote = new PermifyRestAuthorizer({
    url: server.url,
    ...AUTH,
    sleep: noSleep,
    retries: 0,
  });
  const h = await createHarness({
    authz: remote,
    config: { authz: { mode: "permify-rest", url: server.url, insecure: false, ...AUTH } },
  });
  await prepareAuthorizer(h.deps, STRATO_SCHEMA);
  return { h, server, close: () => server.close() };
}

async function outboxRows(h: Harness) {
  const rs = await h.deps.db.all<{ op: string; attempts: number; last_error: string | null }>(
    sql`SELECT op, attempts, last_error FROM authz_outbox ORDER BY id`,
  );
  return rs;
}

const sc = (h: Harness) => ({ deps: h.deps, actor: { kind: "system" as const }, requestId: "t" });
const org = { type: "organization", id: "org_1" };
const ownerOf = (id: string) => ({ entity: org, relation: "owner", subject: { type: "user", id } });

describe("authorization outbox (external Permify)", () => {
  it("queues relationship changes with the change itself and pushes them to Permify", async () => {
    const { h, close } = await withPermify();
    try {
      const ada = await signedInUser(h);
      // The account's platform tuples were queued in the same batch as the account.
      expect((await outboxRows(h)).map((r) => r.op)).toEqual(["write"]);
      expect((await syncAuthorizer(h.deps))?.applied).toBe(1);
      expect(await outboxRows(h)).toEqual([]);
      const member = await h.deps.authz.check({
        entity: { type: "platform", id: "strato" },
        permission: "create_organization",
        subject: { type: "user", id: ada.user.id },
      });
      expect(member.allowed).toBe(true);
      // Mutations drain before they answer: sign-out is one.
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf(ada.user.id)]));
      await ada.request("/api/v1/auth/sign-out", { method: "POST" });
      expect(await outboxRows(h)).toEqual([]);
    } finally {
      await close();
    }
  });

  it("keeps changes Permify refused, retries with backoff, and applies them in order", async () => {
    const { h, server, close } = await withPermify();
    try {
      await syncAuthorizer(h.deps);
      server.backend.inject({ kind: "unavailable" });
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf("usr_a")]));
      await commit(h.deps.db, [
        deleteTuples(sc(h), org, { relations: ["owner"], subject: { type: "user", id: "usr_a" } }),
      ]);
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf("usr_b")]));

      const failed = await syncAuthorizer(h.deps);
      expect(failed).toMatchObject({ applied: 0, pending: true });
      const rows = await outboxRows(h);
      expect(rows.map((r) => r.op)).toEqual(["write", "delete", "write"]);
      expect(rows[0]).toMatchObject({ attempts: 1 });
      expect(rows[0]?.last_error).toBeTruthy();

      // Still backing off: nothing is sent, not even the later rows (order is kept).
      expect(await syncAuthorizer(h.deps)).toMatchObject({ applied: 0, pending: true });
      h.clock.advance(1_001);
      expect(await syncAuthorizer(h.deps)).toMatchObject({ applied: 3 });
      const check = (id: string) =>
        h.deps.authz.check({ entity: org, permission: "delete", subject: { type: "user", id } });
      expect((await check("usr_a")).allowed).toBe(false);
      expect((await check("usr_b")).allowed).toBe(true);
    } finally {
      await close();
    }
  });

  it("drains one at a time: a slow drain's write cannot land after a later drain's delete", async () => {
    const { h, server, close } = await withPermify();
    try {
      await syncAuthorizer(h.deps);
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf("usr_a")]));
      // Permify takes its time with the first drain's write...
      server.backend.inject({ kind: "delay", ms: 300 });
      const slow = syncAuthorizer(h.deps);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // ...while the owner is removed and another request drains.
      await commit(h.deps.db, [
        deleteTuples(sc(h), org, { relations: ["owner"], subject: { type: "user", id: "usr_a" } }),
      ]);
      const later = syncAuthorizer(h.deps);
      await Promise.all([slow, later]);
      await syncAuthorizer(h.deps);
      expect(await outboxRows(h)).toEqual([]);
      const stillOwner = await h.deps.authz.check({
        entity: org,
        permission: "manage_owners",
        subject: { type: "user", id: "usr_a" },
      });
      expect(stillOwner.allowed).toBe(false);
    } finally {
      await close();
    }
  });

  it("turning Permify on after the embedded engine decided: Permify is emptied and given what the database has", async () => {
    const { h, close } = await withPermify();
    try {
      const owner = (id: string) =>
        h.deps.authz.check({
          entity: org,
          permission: "manage_owners",
          subject: { type: "user", id },
        });
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf("usr_a")]));
      await syncAuthorizer(h.deps);
      expect((await owner("usr_a")).allowed).toBe(true);
      // A while with the embedded engine: nothing is queued for Permify.
      await setOutboxSync(h.deps, false);
      await commit(h.deps.db, [
        deleteTuples(sc(h), org, { relations: ["owner"], subject: { type: "user", id: "usr_a" } }),
      ]);
      await commit(h.deps.db, writeTuples(sc(h), [ownerOf("usr_b")]));
      expect(await outboxRows(h)).toEqual([]);
      // Back to Permify (a restart with it configured).
      await prepareAuthorizer(h.deps, STRATO_SCHEMA);
      expect(await outboxRows(h)).toEqual([]);
      expect((await owner("usr_a")).allowed).toBe(false);
      expect((await owner("usr_b")).allowed).toBe(true);
      // Started again with Permify as before: nothing is queued twice.
      await prepareAuthorizer(h.deps, STRATO_SCHEMA);
      expect(await outboxRows(h)).toEqual([]);
    } finally {
      await close();
    }
  });

  it("reads the entity types of a schema", () => {
    expect(entityTypesOf(STRATO_SCHEMA)).toEqual(
      expect.arrayContaining(["user", "organization", "project", "vm", "host", "api_token"]),
    );
  });

  it("queues nothing with the embedded engine", async () => {
    const h = await createHarness();
    await prepareAuthorizer(h.deps, STRATO_SCHEMA);
    await signedInUser(h);
    expect(await outboxRows(h)).toEqual([]);
    expect(await syncAuthorizer(h.deps)).toBeNull();
  });
});
