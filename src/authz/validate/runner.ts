import { type Authorizer, AuthzError } from "../authorizer";
import { EmbeddedAuthorizer } from "../embedded/engine";
import { MemoryTupleStore } from "../embedded/memory-store";
import { decodeValidationFile, type ValidationFile } from "./file";
import { parseAttribute, parseEntity, parseSubject, parseTuple } from "./notation";

export type AssertionStatus = "pass" | "fail" | "error";

export type AssertionResult = {
  /** Stable address, e.g. `scenarios[2].checks[0].edit`; used by `expectErrors`. */
  id: string;
  scenario: string;
  /** Human-readable query, e.g. `group:1#create@user:1`. */
  query: string;
  expected: boolean | string[];
  actual?: boolean | string[];
  status: AssertionStatus;
  error?: { code: string; message: string };
};

export type ValidationReport = {
  /** Set when the file could not be loaded (bad YAML, schema, relationship): nothing ran. */
  loadError?: string;
  results: AssertionResult[];
  /** Ids listed in `expectErrors` that did not end in an error. */
  missingExpectedErrors: string[];
  ok: boolean;
};

export type ValidationOptions = {
  /**
   * Assertion ids that are expected to end in an error, as Permify itself reports an error for
   * them (e.g. an assertion on a permission that does not exist). Each must error; any other
   * error, and any failed assertion, makes the run fail. Nothing is skipped silently.
   */
  expectErrors?: readonly string[];
  /**
   * Reads the schema when `schema` names a `.perm` file instead of holding DSL text, as
   * `permify validate` allows. Without it, such a file fails to load.
   */
  loadSchema?: (path: string) => Promise<string>;
};

/** A `schema:` value that is a path to a `.perm` file rather than DSL text. */
const SCHEMA_PATH = /^[^\s{}]+\.perm$/;

/** Runs a Permify validation file against the embedded engine with an in-memory store. */
export async function runValidation(
  text: string,
  options: ValidationOptions = {},
): Promise<ValidationReport> {
  let file: ValidationFile;
  const authz = new EmbeddedAuthorizer(new MemoryTupleStore());
  try {
    file = decodeValidationFile(text);
    const reference = file.schema.trim();
    const schema =
      SCHEMA_PATH.test(reference) && options.loadSchema
        ? await options.loadSchema(reference)
        : file.schema;
    await authz.writeSchema(schema);
    await authz.writeRelationships(file.relationships.map(parseTuple));
    await authz.writeAttributes(file.attributes.map(parseAttribute));
  } catch (error) {
    return { loadError: describe(error), results: [], missingExpectedErrors: [], ok: false };
  }
  const results: AssertionResult[] = [];
  for (const [si, scenario] of file.scenarios.entries()) {
    const at = (kind: string, i: number, perm: string) => `scenarios[${si}].${kind}[${i}].${perm}`;
    for (const [ci, c] of scenario.checks.entries()) {
      for (const [perm, expected] of c.assertions) {
        const query = `${c.entity}#${perm}@${c.subject}`;
        results.push(
          await settle(at("checks", ci, perm), scenario.name, query, expected, async () => {
            const request = {
              entity: parseEntity(c.entity),
              permission: perm,
              subject: parseSubject(c.subject),
              ...(c.depth === undefined ? {} : { depth: c.depth }),
              ...(c.context === undefined ? {} : { context: c.context }),
            };
            return (await authz.check(request)).allowed;
          }),
        );
      }
    }
    for (const [fi, f] of scenario.entityFilters.entries()) {
      for (const [perm, expected] of f.assertions) {
        const query = `${f.entityType}:?#${perm}@${f.subject}`;
        results.push(
          await settle(at("entity_filters", fi, perm), scenario.name, query, expected, () =>
            lookupEntity(authz, f.entityType, perm, f.subject, f.context),
          ),
        );
      }
    }
    for (const [fi, f] of scenario.subjectFilters.entries()) {
      for (const [perm, expected] of f.assertions) {
        const [refType, refRelation] = f.subjectReference.split("#");
        const query = `${f.entity}#${perm}@${refType}:?${refRelation ? `#${refRelation}` : ""}`;
        results.push(
          await settle(at("subject_filters", fi, perm), scenario.name, query, expected, () => {
            const [type = "", relation] = f.subjectReference.split("#");
            return authz.lookupSubject({
              entity: parseEntity(f.entity),
              permission: perm,
              subjectReference: relation ? { type, relation } : { type },
              ...(f.context === undefined ? {} : { context: f.context }),
            });
          }),
        );
      }
    }
  }
  const expectErrors = new Set(options.expectErrors ?? []);
  const missingExpectedErrors = [...expectErrors].filter(
    (id) => !results.some((r) => r.id === id && r.status === "error"),
  );
  const ok =
    missingExpectedErrors.length === 0 &&
    results.every((r) => r.status === "pass" || (r.status === "error" && expectErrors.has(r.id)));
  return { results, missingExpectedErrors, ok };
}

function lookupEntity(
  authz: Authorizer,
  entityType: string,
  permission: string,
  subject: string,
  context: Parameters<Authorizer["lookupEntity"]>[0]["context"],
): Promise<string[]> {
  return authz.lookupEntity({
    entityType,
    permission,
    subject: parseSubject(subject),
    ...(context === undefined ? {} : { context }),
  });
}

async function settle(
  id: string,
  scenario: string,
  query: string,
  expected: boolean | string[],
  run: () => Promise<boolean | string[]>,
): Promise<AssertionResult> {
  try {
    const actual = await run();
    return {
      id,
      scenario,
      query,
      expected,
      actual,
      status: same(expected, actual) ? "pass" : "fail",
    };
  } catch (error) {
    const code = error instanceof AuthzError ? error.code : "invalid_request";
    return {
      id,
      scenario,
      query,
      expected,
      status: "error",
      error: { code, message: describe(error) },
    };
  }
}

/** Filter results are compared as sets, like Permify (it sorts both lists first). */
function same(expected: boolean | string[], actual: boolean | string[]): boolean {
  if (typeof expected === "boolean" || typeof actual === "boolean") return expected === actual;
  const a = [...new Set(expected)].sort();
  const b = [...new Set(actual)].sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
