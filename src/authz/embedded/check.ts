import { AuthzError, type EntityRef, type SubjectRef } from "../authorizer";
import { type Expr, memberOf, type Schema } from "./ast";
import { evalRule } from "./rule";
import { normRelation, type TupleStore } from "./store";

/**
 * Forward evaluation of one check: does `subject` have `name` on an entity? Every hop (a
 * permission's leaf, an arrow, a subject set) costs one unit of depth; running out is an error
 * (`depth_exhausted`), never a deny, as in Permify. Results are memoised per request.
 */
export class CheckEvaluator {
  private readonly memo = new Map<string, boolean>();
  /** Tuple reads per request: `owner.x or owner.y` reads `owner` once. */
  private readonly reads = new Map<string, Promise<SubjectRef[]>>();
  private readonly subjectRelation: string;

  constructor(
    private readonly schema: Schema,
    private readonly store: TupleStore,
    private readonly subject: SubjectRef,
    private readonly data: Readonly<Record<string, unknown>> | undefined,
  ) {
    this.subjectRelation = normRelation(subject.relation);
  }

  async has(entity: EntityRef, name: string, depth: number): Promise<boolean> {
    if (depth <= 0) {
      throw new AuthzError(
        "depth_exhausted",
        `depth exhausted at ${entity.type}:${entity.id}#${name}`,
      );
    }
    const key = `${entity.type}:${entity.id}#${name}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const result = await this.compute(entity, name, depth);
    this.memo.set(key, result);
    return result;
  }

  /** Evaluates a permission expression (or a sub-expression) on one entity. */
  async expr(entity: EntityRef, expr: Expr, depth: number): Promise<boolean> {
    switch (expr.kind) {
      case "leaf":
        return this.has(entity, expr.name, depth - 1);
      case "arrow":
        return this.arrow(entity, expr.relation, expr.target, depth);
      case "call": {
        const rule = this.schema.rules.get(expr.rule);
        if (!rule) throw new AuthzError("schema_invalid", `unknown rule ${expr.rule}`);
        return evalRule(rule, expr.args, entity, this.store, this.data);
      }
      case "op": {
        const left = await this.expr(entity, expr.left, depth);
        if (expr.op === "or") return left || this.expr(entity, expr.right, depth);
        if (!left) return false;
        const right = await this.expr(entity, expr.right, depth);
        return expr.op === "and" ? right : !right;
      }
    }
  }

  private async compute(entity: EntityRef, name: string, depth: number): Promise<boolean> {
    // A subject set is a member of itself: `doc:1#viewer` has `viewer` on doc:1.
    if (
      this.subjectRelation === name &&
      this.subject.type === entity.type &&
      this.subject.id === entity.id
    ) {
      return true;
    }
    const def = this.schema.entities.get(entity.type);
    const member = def && memberOf(def, name);
    if (!member) return false; // a stored tuple outside the schema grants nothing
    switch (member.kind) {
      case "permission":
        return this.expr(entity, member.def.expr, depth);
      case "attribute":
        return (await this.store.attribute(entity, name)) === true;
      case "relation":
        return this.direct(entity, name, depth);
    }
  }

  private subjectsOf(entity: EntityRef, relation: string): Promise<SubjectRef[]> {
    const key = `${entity.type}:${entity.id}#${relation}`;
    let read = this.reads.get(key);
    if (!read) {
      read = this.store.subjectsOf(entity, relation);
      this.reads.set(key, read);
    }
    return read;
  }

  private async direct(entity: EntityRef, relation: string, depth: number): Promise<boolean> {
    const subjects = await this.subjectsOf(entity, relation);
    for (const s of subjects) {
      if (
        s.type === this.subject.type &&
        s.id === this.subject.id &&
        normRelation(s.relation) === this.subjectRelation
      ) {
        return true;
      }
    }
    for (const s of subjects) {
      const rel = normRelation(s.relation);
      if (rel !== "" && (await this.has({ type: s.type, id: s.id }, rel, depth - 1))) return true;
    }
    return false;
  }

  private async arrow(
    entity: EntityRef,
    relation: string,
    target: string,
    depth: number,
  ): Promise<boolean> {
    for (const s of await this.subjectsOf(entity, relation)) {
      const def = this.schema.entities.get(s.type);
      if (!def || !memberOf(def, target)) continue;
      if (await this.has({ type: s.type, id: s.id }, target, depth - 1)) return true;
    }
    return false;
  }
}
