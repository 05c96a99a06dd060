import { parse as parseYaml } from "yaml";
import type { CheckContext } from "../authorizer";
import { parseAttribute, parseTuple } from "./notation";

/**
 * A decoded Permify validation file (`schema`, `relationships`, `attributes`, `scenarios`).
 * Decoding follows Permify's Go decoder: absent or null lists are empty, and an assertion whose
 * value is null decodes as `false` (Go's zero bool); that is how facebook-groups' stray
 * `checks:` key becomes an assertion on permission `checks`.
 */
export type ValidationFile = {
  schema: string;
  relationships: string[];
  attributes: string[];
  scenarios: Scenario[];
};

export type Scenario = {
  name: string;
  checks: CheckCase[];
  entityFilters: EntityFilterCase[];
  subjectFilters: SubjectFilterCase[];
};

export type CheckCase = {
  entity: string;
  subject: string;
  depth?: number;
  context?: CheckContext;
  assertions: [string, boolean][];
};

export type EntityFilterCase = {
  entityType: string;
  subject: string;
  context?: CheckContext;
  assertions: [string, string[]][];
};

export type SubjectFilterCase = {
  subjectReference: string;
  entity: string;
  context?: CheckContext;
  assertions: [string, string[]][];
};

type Obj = Record<string, unknown>;

export function decodeValidationFile(text: string): ValidationFile {
  const doc = asObj(parseYaml(text), "document");
  const schema = doc.schema;
  if (typeof schema !== "string" || schema.trim() === "") throw new Error("missing 'schema'");
  return {
    schema,
    relationships: strings(doc.relationships, "relationships"),
    attributes: strings(doc.attributes, "attributes"),
    scenarios: list(doc.scenarios).map((raw, i) => {
      const s = asObj(raw, `scenarios[${i}]`);
      return {
        name: typeof s.name === "string" ? s.name : `scenario ${i}`,
        checks: list(s.checks).map((c) => decodeCheck(asObj(c, "check"))),
        entityFilters: list(s.entity_filters).map((f) => {
          const o = asObj(f, "entity_filter");
          return withContext(o, {
            entityType: str(o.entity_type, "entity_type"),
            subject: str(o.subject, "subject"),
            assertions: idAssertions(o.assertions),
          });
        }),
        subjectFilters: list(s.subject_filters).map((f) => {
          const o = asObj(f, "subject_filter");
          return withContext(o, {
            subjectReference: str(o.subject_reference, "subject_reference"),
            entity: str(o.entity, "entity"),
            assertions: idAssertions(o.assertions),
          });
        }),
      };
    }),
  };
}

function decodeCheck(o: Obj): CheckCase {
  const assertions = Object.entries(asObj(o.assertions ?? {}, "assertions")).map(
    ([perm, v]): [string, boolean] => {
      if (v !== null && typeof v !== "boolean")
        throw new Error(`assertion ${perm} is not a boolean`);
      return [perm, v === true];
    },
  );
  const base = withContext(o, {
    entity: str(o.entity, "entity"),
    subject: str(o.subject, "subject"),
    assertions,
  });
  if (typeof o.depth === "number") return { ...base, depth: o.depth };
  return base;
}

function withContext<T extends object>(o: Obj, value: T): T & { context?: CheckContext } {
  if (o.context === undefined || o.context === null) return value;
  const c = asObj(o.context, "context");
  const context: CheckContext = {
    tuples: strings(c.tuples, "context.tuples").map(parseTuple),
    attributes: strings(c.attributes, "context.attributes").map(parseAttribute),
  };
  if (c.data !== undefined && c.data !== null) context.data = asObj(c.data, "context.data");
  return { ...value, context };
}

function idAssertions(raw: unknown): [string, string[]][] {
  return Object.entries(asObj(raw ?? {}, "assertions")).map(([perm, ids]) => [
    perm,
    strings(ids, `assertions.${perm}`),
  ]);
}

function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error("expected a list");
  return v;
}

function strings(v: unknown, what: string): string[] {
  return list(v).map((x) => {
    if (typeof x !== "string" && typeof x !== "number")
      throw new Error(`${what}: expected strings`);
    return String(x);
  });
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`missing '${what}'`);
  return v;
}

function asObj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${what}: expected a map`);
  return v as Obj;
}
