import { type Attribute, AuthzError, type Tuple } from "../authorizer";
import type { Schema } from "./ast";
import { normRelation } from "./store";

/** Rejects tuples the schema does not allow, as Permify does on write. */
export function validateTuple(schema: Schema, t: Tuple): void {
  const where = `${t.entity.type}:${t.entity.id}#${t.relation}@${t.subject.type}:${t.subject.id}`;
  const def = schema.entities.get(t.entity.type);
  if (!def) throw new AuthzError("invalid_relationship", `${where}: unknown entity type`);
  const relation = def.relations.get(t.relation);
  if (!relation) throw new AuthzError("invalid_relationship", `${where}: unknown relation`);
  const sRel = normRelation(t.subject.relation);
  const allowed = relation.types.some(
    (rt) => rt.type === t.subject.type && normRelation(rt.relation) === sRel,
  );
  if (!allowed) {
    throw new AuthzError(
      "invalid_relationship",
      `${where}: subject type not allowed by the schema`,
    );
  }
  if (t.entity.id === "" || t.subject.id === "") {
    throw new AuthzError("invalid_relationship", `${where}: empty id`);
  }
}

/** Rejects attributes that are undeclared or whose value does not fit the declared type. */
export function validateAttribute(schema: Schema, a: Attribute): void {
  const where = `${a.entity.type}:${a.entity.id}$${a.attribute}`;
  const def = schema.entities.get(a.entity.type)?.attributes.get(a.attribute);
  if (!def) throw new AuthzError("invalid_relationship", `${where}: unknown attribute`);
  const values = Array.isArray(a.value) ? a.value : [a.value];
  if (Array.isArray(a.value) !== def.type.array) {
    throw new AuthzError("invalid_relationship", `${where}: array-ness does not match the schema`);
  }
  for (const v of values) {
    const ok =
      def.type.base === "boolean"
        ? typeof v === "boolean"
        : def.type.base === "string"
          ? typeof v === "string"
          : def.type.base === "integer"
            ? Number.isInteger(v)
            : typeof v === "number";
    if (!ok)
      throw new AuthzError("invalid_relationship", `${where}: value is not ${def.type.base}`);
  }
}
