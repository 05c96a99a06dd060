import { type AttributeValue, AuthzError, MIN_DEPTH } from "../authorizer";
import type { AttributeType, Schema } from "../embedded/ast";
import { compileSchema } from "../embedded/compile";

/** Options shared by the REST and gRPC adapters. */
export type PermifyCommonOptions = {
  tenant: string;
  apiKey?: string;
  /** Recursion budget sent as `metadata.depth`; Permify rejects < 3 (and 0). Default 20. */
  depth?: number;
  /** Per-attempt deadline. Default 5000. */
  timeoutMs?: number;
  /** Extra attempts after a network error, 5xx/429 or UNAVAILABLE. Default 2. */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

export const DEFAULT_REMOTE_DEPTH = 20;

/**
 * What an adapter remembers between calls: the latest snap token (so a read after our own write
 * is at least as fresh as it), the schema version, and attribute types from the schema we wrote
 * (Permify needs typed attribute values; JS numbers don't say integer vs double).
 */
export class PermifySession {
  snapToken = "";
  schemaVersion = "";
  private schema: Schema | undefined;

  constructor(private readonly defaultDepth: number) {
    if (!Number.isInteger(defaultDepth) || defaultDepth < MIN_DEPTH) {
      throw new AuthzError("invalid_depth", `depth must be an integer >= ${MIN_DEPTH}`);
    }
  }

  /** Request depth, else the adapter's; 0/missing never goes on the wire (Permify rejects it). */
  depth(requested: number | undefined): number {
    if (requested === undefined || requested === 0) return this.defaultDepth;
    if (!Number.isInteger(requested) || requested < MIN_DEPTH) {
      throw new AuthzError(
        "invalid_depth",
        `depth must be an integer >= ${MIN_DEPTH}, got ${requested}`,
      );
    }
    return requested;
  }

  noteSnapToken(token: string | undefined): void {
    if (token) this.snapToken = token;
  }

  noteSchema(dsl: string, version: string | undefined): void {
    if (version) this.schemaVersion = version;
    try {
      this.schema = compileSchema(dsl);
    } catch {
      // Permify accepted a schema our compiler does not; fall back to guessing attribute types.
      this.schema = undefined;
    }
  }

  attributeType(entityType: string, name: string): AttributeType | undefined {
    return this.schema?.entities.get(entityType)?.attributes.get(name)?.type;
  }
}

/** Permify's `base.v1` wrapper message for an attribute value, and its `data` payload. */
export function attributeWireValue(
  value: AttributeValue,
  declared: AttributeType | undefined,
): { typeName: string; data: AttributeValue } {
  const sample = Array.isArray(value) ? value[0] : value;
  const base = declared?.base ?? guessBase(sample);
  const array = declared?.array ?? Array.isArray(value);
  const stem = { boolean: "Boolean", string: "String", integer: "Integer", double: "Double" }[base];
  return { typeName: `base.v1.${stem}${array ? "ArrayValue" : "Value"}`, data: value };
}

function guessBase(sample: boolean | number | string | undefined): AttributeType["base"] {
  if (typeof sample === "boolean") return "boolean";
  if (typeof sample === "number") return Number.isInteger(sample) ? "integer" : "double";
  return "string";
}
