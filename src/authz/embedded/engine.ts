import {
  type Attribute,
  type Authorizer,
  AuthzError,
  type CheckRequest,
  type LookupEntityRequest,
  type LookupSubjectRequest,
  type RelationshipFilter,
  resolveDepth,
  type Tuple,
} from "../authorizer";
import { type EntityDef, memberOf, type Schema } from "./ast";
import { CheckEvaluator } from "./check";
import { compileSchema } from "./compile";
import { EntityLookup } from "./lookup-entity";
import { withContext } from "./overlay-store";
import type { TupleStore } from "./store";
import { validateAttribute, validateTuple } from "./write-validation";

/** The embedded Permify-compatible engine: a compiled schema evaluated over a `TupleStore`. */
export class EmbeddedAuthorizer implements Authorizer {
  private schema: Schema | undefined;

  /** With `dsl`, the schema is compiled now (throwing on errors) so the engine is ready to use. */
  constructor(
    private readonly store: TupleStore,
    dsl?: string,
  ) {
    if (dsl !== undefined) this.schema = compileSchema(dsl);
  }

  async writeSchema(dsl: string): Promise<void> {
    this.schema = compileSchema(dsl);
  }

  async writeRelationships(tuples: readonly Tuple[]): Promise<void> {
    const schema = this.requireSchema();
    for (const t of tuples) validateTuple(schema, t);
    await this.store.writeTuples(tuples);
  }

  async writeAttributes(attributes: readonly Attribute[]): Promise<void> {
    const schema = this.requireSchema();
    for (const a of attributes) validateAttribute(schema, a);
    await this.store.writeAttributes(attributes);
  }

  deleteRelationships(filter: RelationshipFilter): Promise<number> {
    return this.store.deleteTuples(filter);
  }

  async check(request: CheckRequest): Promise<{ allowed: boolean }> {
    const depth = resolveDepth(request.depth);
    const schema = this.requireSchema();
    this.requireName(schema, request.entity.type, request.permission);
    const store = await withContext(this.store, request.context);
    const checker = new CheckEvaluator(schema, store, request.subject, request.context?.data);
    return { allowed: await checker.has(request.entity, request.permission, depth) };
  }

  async lookupEntity(request: LookupEntityRequest): Promise<string[]> {
    const depth = resolveDepth(request.depth);
    const schema = this.requireSchema();
    this.requireName(schema, request.entityType, request.permission);
    const store = await withContext(this.store, request.context);
    const checker = new CheckEvaluator(schema, store, request.subject, request.context?.data);
    const lookup = new EntityLookup(schema, store, request.subject, checker);
    const ids = await lookup.idsWith(request.entityType, request.permission, depth);
    return [...ids].sort();
  }

  /**
   * Candidates are every id of the subject type the store knows, each checked forward. Correct
   * for `not`/`and`/rules alike; a reverse-free approach fine for the subject counts of one entity.
   */
  async lookupSubject(request: LookupSubjectRequest): Promise<string[]> {
    const depth = resolveDepth(request.depth);
    const schema = this.requireSchema();
    this.requireName(schema, request.entity.type, request.permission);
    const ref = request.subjectReference;
    const refDef = schema.entities.get(ref.type);
    if (!refDef) throw new AuthzError("unknown_entity", `unknown entity type ${ref.type}`);
    if (ref.relation !== undefined && ref.relation !== "") {
      this.requireName(schema, ref.type, ref.relation);
    }
    const store = await withContext(this.store, request.context);
    const out: string[] = [];
    for (const id of await store.idsOfType(ref.type)) {
      const subject = ref.relation
        ? { type: ref.type, id, relation: ref.relation }
        : { type: ref.type, id };
      const checker = new CheckEvaluator(schema, store, subject, request.context?.data);
      if (await checker.has(request.entity, request.permission, depth)) out.push(id);
    }
    return out.sort();
  }

  private requireSchema(): Schema {
    if (!this.schema) throw new AuthzError("schema_missing", "no schema has been written");
    return this.schema;
  }

  private requireName(schema: Schema, type: string, name: string): EntityDef {
    const def = schema.entities.get(type);
    if (!def) throw new AuthzError("unknown_entity", `unknown entity type ${type}`);
    if (!memberOf(def, name)) {
      throw new AuthzError("unknown_permission", `${type} has no permission or relation '${name}'`);
    }
    return def;
  }
}
