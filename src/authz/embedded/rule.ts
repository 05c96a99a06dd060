import { type ParseResult, parse as parseCel } from "@marcbachmann/cel-js";
import { type AttributeValue, AuthzError, type EntityRef } from "../authorizer";
import type { AttributeType, RuleDef } from "./ast";
import type { TupleStore } from "./store";

const compiled = new WeakMap<RuleDef, ParseResult>();

/**
 * Evaluates a CEL `rule` with the entity's attributes bound to its parameters and the request's
 * `context.data` as `context.data`. Missing attributes take their type's zero value (false, 0, "",
 * []), the same default Permify uses, so a boolean leaf and a rule agree on "missing = false".
 * Integers are passed as CEL ints (bigint); CEL compares them with the doubles of `context.data`.
 */
export async function evalRule(
  rule: RuleDef,
  args: readonly string[],
  entity: EntityRef,
  store: TupleStore,
  data: Readonly<Record<string, unknown>> | undefined,
): Promise<boolean> {
  let program = compiled.get(rule);
  if (!program) {
    program = parseCel(rule.body);
    compiled.set(rule, program);
  }
  const vars: Record<string, unknown> = { context: { data: data ?? {} } };
  await Promise.all(
    rule.params.map(async (param, i) => {
      const name = args[i] ?? param.name;
      const value = await store.attribute(entity, name);
      vars[param.name] = toCel(value ?? zeroValue(param.type), param.type);
    }),
  );
  let result: unknown;
  try {
    result = program(vars);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AuthzError(
      "rule_failed",
      `rule ${rule.name} on ${entity.type}:${entity.id}: ${message}`,
    );
  }
  if (typeof result !== "boolean") {
    throw new AuthzError("rule_failed", `rule ${rule.name} did not return a boolean`);
  }
  return result;
}

function zeroValue(type: AttributeType): AttributeValue {
  if (type.array) return [];
  switch (type.base) {
    case "boolean":
      return false;
    case "string":
      return "";
    default:
      return 0;
  }
}

function toCel(value: AttributeValue, type: AttributeType): unknown {
  if (type.base !== "integer") return value;
  if (Array.isArray(value)) return value.map((v) => BigInt(Math.trunc(Number(v))));
  return BigInt(Math.trunc(Number(value)));
}
