import type { Schema, Schemas } from "./schema";

export type Deserialized =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; message: string };

/** serde's integer ranges per OpenAPI `format`; plain `integer` is treated as u64 like most fields. */
const INTEGER_RANGES: Record<string, { name: string; min: bigint; max: bigint }> = {
  int8: { name: "i8", min: -(2n ** 7n), max: 2n ** 7n - 1n },
  int16: { name: "i16", min: -(2n ** 15n), max: 2n ** 15n - 1n },
  int32: { name: "i32", min: -(2n ** 31n), max: 2n ** 31n - 1n },
  int64: { name: "i64", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint8: { name: "u8", min: 0n, max: 2n ** 8n - 1n },
  uint16: { name: "u16", min: 0n, max: 2n ** 16n - 1n },
  uint32: { name: "u32", min: 0n, max: 2n ** 32n - 1n },
  default: { name: "u64", min: 0n, max: 2n ** 64n - 1n },
};

class SerdeError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** How serde_json names an unexpected JSON value in "invalid type: …" messages. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return `boolean \`${value}\``;
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "number")
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (Array.isArray(value)) return "sequence";
  return "map";
}

/**
 * Parses a request body like serde_json into the named upstream schema: JSON syntax, types,
 * required fields, enum variants and integer ranges. Unknown keys are ignored, as no CH struct
 * uses `deny_unknown_fields`. Error texts follow serde's wording; positions are approximate.
 */
export function deserializeBody(schemas: Schemas, name: string, text: string): Deserialized {
  const at = ` at line 1 column ${text.length}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    if (text.trim() === "" || /end of JSON input|Unterminated/.test(message))
      return { ok: false, message: `EOF while parsing a value${at}` };
    return { ok: false, message: "expected value at line 1 column 1" };
  }
  try {
    const value = check(schemas, { $ref: `#/components/schemas/${name}` }, parsed, name);
    if (!isRecord(value)) throw new SerdeError(`invalid type: ${describe(parsed)}, expected map`);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof SerdeError) return { ok: false, message: `${error.message}${at}` };
    throw error;
  }
}

function resolve(schemas: Schemas, schema: Schema): { schema: Schema; name: string | undefined } {
  if (!schema.$ref) return { schema, name: undefined };
  const name = schema.$ref.replace("#/components/schemas/", "");
  const target = schemas[name];
  if (!target) throw new Error(`unknown schema ${schema.$ref}`);
  return { schema: target, name };
}

function check(schemas: Schemas, raw: Schema, value: unknown, field: string): unknown {
  const { schema, name } = resolve(schemas, raw);
  if (schema.enum) {
    if (typeof value !== "string")
      throw new SerdeError(`invalid type: ${describe(value)}, expected string or map`);
    if (!schema.enum.includes(value)) {
      const variants = schema.enum.map((v) => `\`${String(v)}\``).join(", ");
      throw new SerdeError(`unknown variant \`${value}\`, expected one of ${variants}`);
    }
    return value;
  }
  switch (schema.type) {
    case "object":
    case undefined:
      return checkObject(schemas, schema, value, name ?? field);
    case "array": {
      if (!Array.isArray(value))
        throw new SerdeError(`invalid type: ${describe(value)}, expected a sequence`);
      const items = schema.items;
      return items ? value.map((v, i) => check(schemas, items, v, `${field}[${i}]`)) : value;
    }
    case "string":
      if (typeof value !== "string")
        throw new SerdeError(`invalid type: ${describe(value)}, expected a string`);
      if (schema.minLength !== undefined && value.length < schema.minLength)
        throw new SerdeError(`invalid length ${value.length}, expected a non-empty string`);
      return value;
    case "boolean":
      if (typeof value !== "boolean")
        throw new SerdeError(`invalid type: ${describe(value)}, expected a boolean`);
      return value;
    case "integer":
      return checkInteger(schema, value);
    case "number":
      if (typeof value !== "number")
        throw new SerdeError(`invalid type: ${describe(value)}, expected f64`);
      return value;
    default:
      return value;
  }
}

function checkInteger(schema: Schema, value: unknown): number {
  const range = INTEGER_RANGES[schema.format ?? "default"] ?? INTEGER_RANGES.default;
  const rangeName = range?.name ?? "u64";
  if (typeof value !== "number" || !Number.isInteger(value))
    throw new SerdeError(`invalid type: ${describe(value)}, expected ${rangeName}`);
  const big = BigInt(value);
  const tooSmall = schema.minimum !== undefined && value < schema.minimum;
  const tooLarge = schema.maximum !== undefined && value > schema.maximum;
  if ((range && (big < range.min || big > range.max)) || tooSmall || tooLarge)
    throw new SerdeError(`invalid value: integer \`${value}\`, expected ${rangeName}`);
  return value;
}

function checkObject(schemas: Schemas, schema: Schema, value: unknown, name: string): unknown {
  if (!isRecord(value))
    throw new SerdeError(`invalid type: ${describe(value)}, expected struct ${name}`);
  for (const required of schema.required ?? []) {
    if (value[required] === undefined || value[required] === null)
      throw new SerdeError(`missing field \`${required}\``);
  }
  for (const [key, child] of Object.entries(value)) {
    const property = schema.properties?.[key];
    // Optional fields are `Option<T>` in CH: null means absent.
    if (property) {
      if (child !== null) check(schemas, property, child, key);
    } else if (typeof schema.additionalProperties === "object") {
      check(schemas, schema.additionalProperties, child, key);
    }
  }
  return value;
}
