/** Typed AST of a Permify schema, produced by `parseSchema` and checked by `compileSchema`. */

export type AttributeType = {
  base: "boolean" | "string" | "integer" | "double";
  array: boolean;
};

/**
 * Permission expression. `and`, `or` and `not` are all binary (`a not b` = a AND NOT b) and
 * share one precedence level, left-associative: see parser.ts for the source of truth.
 */
export type Expr =
  | { kind: "leaf"; name: string }
  | { kind: "arrow"; relation: string; target: string }
  | { kind: "call"; rule: string; args: string[] }
  | { kind: "op"; op: "and" | "or" | "not"; left: Expr; right: Expr };

/** `@type` (relation undefined) or `@type#relation`. */
export type RelationType = { type: string; relation?: string };

export type RelationDef = { name: string; types: RelationType[] };
export type AttributeDef = { name: string; type: AttributeType };
export type PermissionDef = { name: string; expr: Expr; action: boolean };

export type EntityDef = {
  name: string;
  relations: Map<string, RelationDef>;
  attributes: Map<string, AttributeDef>;
  permissions: Map<string, PermissionDef>;
};

export type RuleParam = { name: string; type: AttributeType };
export type RuleDef = { name: string; params: RuleParam[]; body: string };

export type Schema = {
  entities: Map<string, EntityDef>;
  rules: Map<string, RuleDef>;
};

/** What a name inside an entity refers to; permissions, relations and attributes share one namespace. */
export type Member =
  | { kind: "relation"; def: RelationDef }
  | { kind: "permission"; def: PermissionDef }
  | { kind: "attribute"; def: AttributeDef };

export function memberOf(entity: EntityDef, name: string): Member | undefined {
  const relation = entity.relations.get(name);
  if (relation) return { kind: "relation", def: relation };
  const permission = entity.permissions.get(name);
  if (permission) return { kind: "permission", def: permission };
  const attribute = entity.attributes.get(name);
  if (attribute) return { kind: "attribute", def: attribute };
  return undefined;
}

export function containsCall(expr: Expr): boolean {
  if (expr.kind === "call") return true;
  if (expr.kind === "op") return containsCall(expr.left) || containsCall(expr.right);
  return false;
}
