import { parse as parseCel } from "@marcbachmann/cel-js";
import { AuthzError } from "../authorizer";
import { type EntityDef, type Expr, memberOf, type Schema } from "./ast";
import { parseSchema } from "./parser";

/**
 * Parses and resolves a schema: every name a permission, arrow, relation type or rule call uses
 * must exist, so evaluation never meets a dangling reference. Rule bodies are parsed as CEL here
 * so a broken rule fails at schema load, not at the first check.
 */
export function compileSchema(dsl: string): Schema {
  const schema = parseSchema(dsl);
  for (const entity of schema.entities.values()) {
    for (const relation of entity.relations.values()) {
      for (const t of relation.types) {
        const target = schema.entities.get(t.type);
        if (!target) invalid(`${entity.name}.${relation.name}: unknown entity type @${t.type}`);
        if (t.relation !== undefined) {
          const m = memberOf(target, t.relation);
          if (!m || m.kind === "attribute") {
            invalid(`${entity.name}.${relation.name}: @${t.type}#${t.relation} is not a relation`);
          }
        }
      }
    }
    for (const permission of entity.permissions.values()) {
      checkExpr(schema, entity, permission.expr, `${entity.name}.${permission.name}`);
    }
  }
  for (const rule of schema.rules.values()) {
    try {
      parseCel(rule.body);
    } catch (error) {
      invalid(`rule ${rule.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return schema;
}

function checkExpr(schema: Schema, entity: EntityDef, expr: Expr, where: string): void {
  switch (expr.kind) {
    case "op":
      checkExpr(schema, entity, expr.left, where);
      checkExpr(schema, entity, expr.right, where);
      return;
    case "leaf": {
      const m = memberOf(entity, expr.name);
      if (!m) invalid(`${where}: '${expr.name}' is not defined on ${entity.name}`);
      if (m.kind === "attribute" && (m.def.type.base !== "boolean" || m.def.type.array)) {
        invalid(`${where}: attribute '${expr.name}' is not boolean; use it through a rule`);
      }
      return;
    }
    case "arrow": {
      const relation = entity.relations.get(expr.relation);
      if (!relation) invalid(`${where}: '${expr.relation}' is not a relation of ${entity.name}`);
      const direct = relation.types.filter((t) => t.relation === undefined);
      if (direct.length === 0) invalid(`${where}: '${expr.relation}' has no plain @type to follow`);
      for (const t of direct) {
        const target = schema.entities.get(t.type);
        const m = target && memberOf(target, expr.target);
        if (!m) invalid(`${where}: '${expr.target}' is not defined on ${t.type}`);
        if (m.kind === "attribute" && (m.def.type.base !== "boolean" || m.def.type.array)) {
          invalid(`${where}: ${t.type}.${expr.target} is not a boolean attribute`);
        }
      }
      return;
    }
    case "call": {
      const rule = schema.rules.get(expr.rule);
      if (!rule) invalid(`${where}: unknown rule '${expr.rule}'`);
      if (rule.params.length !== expr.args.length) {
        invalid(`${where}: rule ${rule.name} takes ${rule.params.length} argument(s)`);
      }
      expr.args.forEach((arg, i) => {
        // Permify passes attributes of the entity itself; anything else would need data we lack.
        if (arg.includes(".")) {
          throw new AuthzError(
            "unsupported",
            `${where}: rule argument '${arg}' is not an attribute`,
          );
        }
        const attribute = entity.attributes.get(arg);
        if (!attribute) invalid(`${where}: '${arg}' is not an attribute of ${entity.name}`);
        const param = rule.params[i];
        if (
          param &&
          (param.type.base !== attribute.type.base || param.type.array !== attribute.type.array)
        ) {
          invalid(
            `${where}: attribute '${arg}' does not match the type of ${rule.name}(${param.name})`,
          );
        }
      });
      return;
    }
  }
}

function invalid(message: string): never {
  throw new AuthzError("schema_invalid", message);
}
