import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Authorizer, AuthzError, type Tuple } from "../../src/authz/authorizer";
import { EmbeddedAuthorizer } from "../../src/authz/embedded/engine";
import { LibsqlTupleStore } from "../../src/authz/embedded/libsql-store";
import { MemoryTupleStore } from "../../src/authz/embedded/memory-store";
import type { TupleStore } from "../../src/authz/embedded/store";
import { parseTuple } from "../../src/authz/validate/notation";
import { openNodeDatabase } from "../../src/node/database";
import { applyMigrations } from "../../src/node/migrate";

const SCHEMA = `
entity user {}

entity group {
  relation member @user @group#member
}

entity org {
  relation admin @user
  relation member @user @group#member
  permission manage = admin
}

/* documents: every operator shape we care about */
entity doc {
  relation org @org
  relation owner @user
  relation editor @user @group#member
  relation viewer @user
  relation blocked @user
  attribute public boolean

  permission prec = owner or editor and viewer      // Permify: (owner or editor) and viewer
  permission grouped = owner or (editor and viewer)
  permission excl = viewer not blocked
  permission chain = owner not blocked or editor     // (owner not blocked) or editor
  permission view = public or viewer or editor or org.manage
  permission admin_via_relation = org.admin
  permission edit = owner or org.member
}

entity folder {
  relation parent @folder
  relation owner @user
  permission view = owner or parent.view
}

entity account {
  relation owner @user
  attribute balance integer
  permission withdraw = check_balance(balance) and owner
}

rule check_balance(balance integer) {
  balance >= context.data.amount
}
`;

const DATA = [
  "group:a#member@user:xena",
  "group:b#member@group:a#member",
  "group:c#member@group:b#member",
  "doc:1#editor@group:c#member",
  "doc:1#owner@user:olga",
  "doc:2#owner@user:olga",
  "doc:2#viewer@user:olga",
  "doc:3#viewer@user:vic",
  "doc:3#viewer@user:bob",
  "doc:3#blocked@user:bob",
  "doc:4#owner@user:bob",
  "doc:4#blocked@user:bob",
  "doc:4#org@org:acme",
  "org:acme#admin@user:ada",
  "org:acme#member@group:a#member",
  "account:1#owner@user:olga",
  "account:2#owner@user:olga",
];

type StoreFactory = () => Promise<TupleStore>;

const tmp = mkdtempSync(join(tmpdir(), "strato-authz-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dbCount = 0;

const stores: [string, StoreFactory][] = [
  ["in-memory store", async () => new MemoryTupleStore()],
  [
    "libSQL store",
    async () => {
      const db = openNodeDatabase(`file:${join(tmp, `authz-${dbCount++}.db`)}`);
      await applyMigrations(db);
      return new LibsqlTupleStore(db);
    },
  ],
];

async function setup(makeStore: StoreFactory, tuples: string[] = DATA): Promise<Authorizer> {
  const authz = new EmbeddedAuthorizer(await makeStore());
  await authz.writeSchema(SCHEMA);
  await authz.writeRelationships(tuples.map(parseTuple));
  await authz.writeAttributes([
    { entity: { type: "doc", id: "5" }, attribute: "public", value: true },
    { entity: { type: "doc", id: "6" }, attribute: "public", value: false },
    { entity: { type: "account", id: "1" }, attribute: "balance", value: 4000 },
  ]);
  return authz;
}

const allowed = async (authz: Authorizer, entity: string, permission: string, subject: string) => {
  const [type = "", id = ""] = entity.split(":");
  const [sType = "", rest = ""] = subject.split(":");
  const [sId = "", relation] = rest.split("#");
  const s = relation ? { type: sType, id: sId, relation } : { type: sType, id: sId };
  return (await authz.check({ entity: { type, id }, permission, subject: s })).allowed;
};

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => "no error",
    (e: unknown) => (e instanceof AuthzError ? e.code : String(e)),
  );

for (const [name, makeStore] of stores) {
  describe(`embedded authorizer over the ${name}`, () => {
    it("binds `a or b and c` as (a or b) and c, like Permify", async () => {
      const authz = await setup(makeStore);
      // olga owns doc:1 but is no viewer: (owner or editor) and viewer = false
      expect(await allowed(authz, "doc:1", "prec", "user:olga")).toBe(false);
      expect(await allowed(authz, "doc:1", "grouped", "user:olga")).toBe(true);
      expect(await allowed(authz, "doc:2", "prec", "user:olga")).toBe(true);
    });

    it("treats `not` as binary exclusion at the same level", async () => {
      const authz = await setup(makeStore);
      expect(await allowed(authz, "doc:3", "excl", "user:vic")).toBe(true);
      expect(await allowed(authz, "doc:3", "excl", "user:bob")).toBe(false);
      expect(await allowed(authz, "doc:4", "chain", "user:bob")).toBe(false);
      expect(await allowed(authz, "doc:1", "chain", "user:olga")).toBe(true);
      expect(await allowed(authz, "doc:1", "chain", "user:xena")).toBe(true);
    });

    it("rejects a prefix `not` as a syntax error", async () => {
      const authz = await setup(makeStore);
      const bad = "entity user {}\nentity d {\n relation r @user\n permission p = not r\n}";
      expect(await code(authz.writeSchema(bad))).toBe("schema_invalid");
    });

    it("follows nested subject sets through several levels", async () => {
      const authz = await setup(makeStore);
      expect(await allowed(authz, "doc:1", "editor", "user:xena")).toBe(true);
      expect(await allowed(authz, "doc:1", "view", "user:xena")).toBe(true);
      expect(await allowed(authz, "doc:1", "editor", "group:b#member")).toBe(true);
      expect(await allowed(authz, "doc:1", "editor", "user:olga")).toBe(false);
    });

    it("follows arrows to permissions and to relations", async () => {
      const authz = await setup(makeStore);
      expect(await allowed(authz, "doc:4", "view", "user:ada")).toBe(true); // org.manage
      expect(await allowed(authz, "doc:4", "admin_via_relation", "user:ada")).toBe(true);
      expect(await allowed(authz, "doc:4", "edit", "user:xena")).toBe(true); // org.member → group
      expect(await allowed(authz, "doc:3", "admin_via_relation", "user:ada")).toBe(false);
    });

    it("reads boolean attributes as leaves, missing = false", async () => {
      const authz = await setup(makeStore);
      expect(await allowed(authz, "doc:5", "view", "user:anyone")).toBe(true);
      expect(await allowed(authz, "doc:6", "view", "user:anyone")).toBe(false);
      expect(await allowed(authz, "doc:7", "view", "user:anyone")).toBe(false);
    });

    it("evaluates CEL rules with integer attributes and context.data", async () => {
      const authz = await setup(makeStore);
      const withdraw = (id: string, user: string, amount: number) =>
        authz.check({
          entity: { type: "account", id },
          permission: "withdraw",
          subject: { type: "user", id: user },
          context: { data: { amount } },
        });
      expect((await withdraw("1", "olga", 3000)).allowed).toBe(true);
      expect((await withdraw("1", "olga", 5000)).allowed).toBe(false);
      expect((await withdraw("1", "bob", 10)).allowed).toBe(false);
      expect((await withdraw("2", "olga", 10)).allowed).toBe(false); // missing balance = 0
      expect(
        await authz.lookupEntity({
          entityType: "account",
          permission: "withdraw",
          subject: { type: "user", id: "olga" },
          context: { data: { amount: 100 } },
        }),
      ).toEqual(["1"]);
    });

    it("errors, never denies, when depth runs out; depth below 3 is invalid", async () => {
      const chain: string[] = ["folder:0#owner@user:root"];
      for (let i = 1; i <= 20; i++) chain.push(`folder:${i}#parent@folder:${i - 1}`);
      const authz = await setup(makeStore, chain);
      const check = (depth?: number) =>
        authz.check({
          entity: { type: "folder", id: "20" },
          permission: "view",
          subject: { type: "user", id: "root" },
          ...(depth === undefined ? {} : { depth }),
        });
      expect((await check()).allowed).toBe(true);
      expect(await code(check(10))).toBe("depth_exhausted");
      expect(await code(check(2))).toBe("invalid_depth");
      const ids = await authz.lookupEntity({
        entityType: "folder",
        permission: "view",
        subject: { type: "user", id: "root" },
      });
      expect(ids).toHaveLength(21);
    });

    it("errors on unknown permissions and entity types", async () => {
      const authz = await setup(makeStore);
      expect(await code(allowed(authz, "doc:1", "nope", "user:olga"))).toBe("unknown_permission");
      expect(await code(allowed(authz, "nope:1", "view", "user:olga"))).toBe("unknown_entity");
    });

    it("refuses unsupported or invalid schemas loudly, keeping the old schema", async () => {
      const authz = await setup(makeStore);
      const multiArrow =
        "entity user {}\nentity a {\n relation p @a\n relation o @user\n permission v = p.p.o\n}";
      expect(await code(authz.writeSchema(multiArrow))).toBe("unsupported");
      const intLeaf = "entity user {}\nentity a {\n attribute n integer\n permission v = n\n}";
      expect(await code(authz.writeSchema(intLeaf))).toBe("schema_invalid");
      const badCel =
        "entity a {\n attribute n integer\n permission v = r(n)\n}\nrule r(n integer) { n >= }";
      expect(await code(authz.writeSchema(badCel))).toBe("schema_invalid");
      expect(await allowed(authz, "doc:1", "owner", "user:olga")).toBe(true);
    });

    it("rejects tuples the schema does not allow", async () => {
      const authz = await setup(makeStore);
      const bad: Tuple = parseTuple("doc:1#owner@group:a#member");
      expect(await code(authz.writeRelationships([bad]))).toBe("invalid_relationship");
    });

    it("looks up entities by reverse traversal", async () => {
      const authz = await setup(makeStore);
      const lookup = (permission: string, id: string, relation?: string) =>
        authz.lookupEntity({
          entityType: "doc",
          permission,
          subject: relation ? { type: "user", id, relation } : { type: "user", id },
        });
      expect(await lookup("view", "xena")).toEqual(["1", "5"]);
      expect(await lookup("edit", "xena")).toEqual(["4"]);
      expect(await lookup("view", "ada")).toEqual(["4", "5"]);
      expect(await lookup("excl", "bob")).toEqual([]);
      expect(await lookup("excl", "vic")).toEqual(["3"]);
      expect(await lookup("prec", "olga")).toEqual(["2"]);
      expect(await lookup("chain", "bob")).toEqual([]);
      expect(await lookup("chain", "olga")).toEqual(["1", "2"]);
    });

    it("looks up subjects", async () => {
      const authz = await setup(makeStore);
      const subjects = (entity: string, permission: string) =>
        authz.lookupSubject({
          entity: { type: "doc", id: entity },
          permission,
          subjectReference: { type: "user" },
        });
      expect(await subjects("1", "view")).toEqual(["xena"]);
      expect(await subjects("3", "excl")).toEqual(["vic"]);
      expect(await subjects("4", "edit")).toEqual(["bob", "xena"]);
      expect(
        await authz.lookupSubject({
          entity: { type: "doc", id: "1" },
          permission: "editor",
          subjectReference: { type: "group", relation: "member" },
        }),
      ).toEqual(["a", "b", "c"]);
    });

    it("applies contextual tuples and deletes relationships", async () => {
      const authz = await setup(makeStore);
      const extra = { tuples: [parseTuple("doc:9#viewer@user:tmp")] };
      const res = await authz.check({
        entity: { type: "doc", id: "9" },
        permission: "view",
        subject: { type: "user", id: "tmp" },
        context: extra,
      });
      expect(res.allowed).toBe(true);
      expect(await allowed(authz, "doc:9", "view", "user:tmp")).toBe(false);
      expect(
        await authz.deleteRelationships({
          entityType: "doc",
          entityIds: ["3"],
          relation: "blocked",
        }),
      ).toBe(1);
      expect(await allowed(authz, "doc:3", "excl", "user:bob")).toBe(true);
    });
  });
}
