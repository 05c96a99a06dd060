import { describe, expect, it } from "vitest";
import { type Authorizer, AuthzError, type Tuple } from "../../src/authz/authorizer";

/**
 * Behaviour every `Authorizer` must share, whatever runs it (embedded engine, remote Permify).
 * `make` returns a fresh, empty authorizer and registers its own cleanup.
 */
export const CONTRACT_SCHEMA = `
entity user {}

entity group {
  relation member @user @group#member
}

entity folder {
  relation owner @user
  permission view = owner
}

entity doc {
  relation parent @folder
  relation viewer @user @group#member
  relation blocked @user
  attribute public boolean
  permission view = viewer or parent.view or public
  permission safe_view = view not blocked
}
`;

function tuple(entity: string, relation: string, subject: string): Tuple {
  const [eType = "", eId = ""] = entity.split(":");
  const [sObj = "", sRel] = subject.split("#");
  const [sType = "", sId = ""] = sObj.split(":");
  const s = sRel ? { type: sType, id: sId, relation: sRel } : { type: sType, id: sId };
  return { entity: { type: eType, id: eId }, relation, subject: s };
}

const DATA: Tuple[] = [
  tuple("doc:1", "viewer", "user:alice"),
  tuple("doc:1", "viewer", "user:bob"),
  tuple("doc:1", "blocked", "user:alice"),
  tuple("group:core", "member", "user:carol"),
  tuple("group:eng", "member", "group:core#member"),
  tuple("doc:1", "viewer", "group:eng#member"),
  tuple("folder:f", "owner", "user:dave"),
  tuple("doc:2", "parent", "folder:f"),
];

export function authorizerContract(name: string, make: () => Promise<Authorizer>): void {
  describe(`Authorizer contract: ${name}`, () => {
    async function seeded(): Promise<Authorizer> {
      const authz = await make();
      await authz.writeSchema(CONTRACT_SCHEMA);
      await authz.writeRelationships(DATA);
      await authz.writeAttributes([
        { entity: { type: "doc", id: "3" }, attribute: "public", value: true },
        { entity: { type: "doc", id: "4" }, attribute: "public", value: false },
      ]);
      return authz;
    }

    const can = async (authz: Authorizer, entity: string, permission: string, subject: string) => {
      const t = tuple(entity, "", subject);
      return (await authz.check({ entity: t.entity, permission, subject: t.subject })).allowed;
    };

    it("allows a direct relation and denies a stranger", async () => {
      const authz = await seeded();
      expect(await can(authz, "doc:1", "view", "user:bob")).toBe(true);
      expect(await can(authz, "doc:1", "view", "user:mallory")).toBe(false);
    });

    it("follows nested subject sets", async () => {
      const authz = await seeded();
      expect(await can(authz, "doc:1", "view", "user:carol")).toBe(true);
      expect(await can(authz, "group:eng", "member", "user:carol")).toBe(true);
    });

    it("follows an arrow to the parent's permission", async () => {
      const authz = await seeded();
      expect(await can(authz, "doc:2", "view", "user:dave")).toBe(true);
      expect(await can(authz, "doc:2", "view", "user:bob")).toBe(false);
    });

    it("applies exclusion", async () => {
      const authz = await seeded();
      expect(await can(authz, "doc:1", "safe_view", "user:alice")).toBe(false);
      expect(await can(authz, "doc:1", "safe_view", "user:bob")).toBe(true);
    });

    it("uses a boolean attribute", async () => {
      const authz = await seeded();
      expect(await can(authz, "doc:3", "view", "user:anyone")).toBe(true);
      expect(await can(authz, "doc:4", "view", "user:anyone")).toBe(false);
    });

    it("looks up entities a subject can reach", async () => {
      const authz = await seeded();
      const visible = (id: string) =>
        authz.lookupEntity({
          entityType: "doc",
          permission: "view",
          subject: { type: "user", id },
        });
      // doc:3 is public, so everyone sees it; doc:4 is explicitly not.
      expect(await visible("dave")).toEqual(["2", "3"]);
      expect(await visible("carol")).toEqual(["1", "3"]);
    });

    it("looks up subjects with a permission", async () => {
      const authz = await seeded();
      const ids = await authz.lookupSubject({
        entity: { type: "doc", id: "1" },
        permission: "safe_view",
        subjectReference: { type: "user" },
      });
      expect(ids).toEqual(["bob", "carol"]);
    });

    it("denies after the granting relationship is deleted", async () => {
      const authz = await seeded();
      const deleted = await authz.deleteRelationships({
        entityType: "doc",
        entityIds: ["1"],
        relation: "viewer",
        subjectType: "user",
        subjectIds: ["bob"],
      });
      expect([1, -1]).toContain(deleted);
      expect(await can(authz, "doc:1", "view", "user:bob")).toBe(false);
      expect(await can(authz, "doc:1", "view", "user:carol")).toBe(true);
    });

    it("rejects an unknown permission with unknown_permission", async () => {
      const authz = await seeded();
      const error = await authz
        .check({
          entity: { type: "doc", id: "1" },
          permission: "nope",
          subject: { type: "user", id: "bob" },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthzError);
      expect((error as AuthzError).code).toBe("unknown_permission");
    });
  });
}
