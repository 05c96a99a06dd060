import { AuthzError, type SubjectRef } from "../authorizer";
import { containsCall, type Expr, memberOf, type Schema } from "./ast";
import type { CheckEvaluator } from "./check";
import { normRelation, type TupleStore } from "./store";

/**
 * Reverse traversal for lookupEntity: computes, per (entity type, name), the set of entity ids on
 * which the subject has that name, walking tuples from the subject towards the entities with one
 * batched reverse query per hop instead of one check per candidate. `and`/`not` become set
 * intersection/difference. Parts that contain CEL rules cannot be reversed: they filter the
 * candidates of the other operand with the forward evaluator (or, alone, all ids of the type).
 * Recursive schemas (folder.parent.view) are solved by iterating to a fixpoint.
 */
export class EntityLookup {
  private readonly memo = new Map<string, Set<string>>();
  private readonly inProgress = new Set<string>();
  private readonly approx = new Map<string, Set<string>>();
  /** In-progress keys whose current value was read before it was final. */
  private readonly openHits = new Set<string>();
  private readonly subjectRelation: string;

  constructor(
    private readonly schema: Schema,
    private readonly store: TupleStore,
    private readonly subject: SubjectRef,
    private readonly checker: CheckEvaluator,
  ) {
    this.subjectRelation = normRelation(subject.relation);
  }

  async idsWith(type: string, name: string, depth: number): Promise<Set<string>> {
    if (depth <= 0) throw new AuthzError("depth_exhausted", `depth exhausted at ${type}#${name}`);
    const key = `${type}#${name}`;
    const known = this.memo.get(key);
    if (known) return known;
    if (this.inProgress.has(key)) {
      this.openHits.add(key);
      return this.approx.get(key) ?? new Set();
    }
    this.inProgress.add(key);
    let result = await this.compute(type, name, depth);
    for (let round = 0; this.openHits.delete(key); round++) {
      if (round >= depth) throw new AuthzError("depth_exhausted", `no fixpoint for ${key}`);
      this.approx.set(key, result);
      const next = await this.compute(type, name, depth);
      const stable = sameSet(next, result);
      result = next;
      if (stable) {
        this.openHits.delete(key);
        break;
      }
    }
    this.inProgress.delete(key);
    this.approx.delete(key);
    // Only final when no enclosing cycle is still being solved.
    if (this.openHits.size === 0) this.memo.set(key, result);
    return result;
  }

  private async compute(type: string, name: string, depth: number): Promise<Set<string>> {
    const out = new Set<string>();
    if (this.subject.type === type && this.subjectRelation === name) out.add(this.subject.id);
    const def = this.schema.entities.get(type);
    const member = def && memberOf(def, name);
    if (!member) return out;
    if (member.kind === "permission") {
      return union(out, await this.exprIds(type, member.def.expr, depth));
    }
    if (member.kind === "attribute") {
      for (const row of await this.store.attributesOf(type, name)) {
        if (row.value === true) out.add(row.id);
      }
      return out;
    }
    for (const t of member.def.types) {
      const rel = normRelation(t.relation);
      const ids =
        rel === ""
          ? t.type === this.subject.type && this.subjectRelation === ""
            ? [this.subject.id]
            : []
          : [...(await this.idsWith(t.type, rel, depth - 1))];
      if (ids.length === 0) continue;
      for (const id of await this.store.entitiesBySubjects(type, name, t.type, ids, rel)) {
        out.add(id);
      }
    }
    return out;
  }

  private async exprIds(type: string, expr: Expr, depth: number): Promise<Set<string>> {
    switch (expr.kind) {
      case "leaf":
        return this.idsWith(type, expr.name, depth - 1);
      case "arrow":
        return this.arrowIds(type, expr.relation, expr.target, depth);
      case "call":
        return this.filter(type, new Set(await this.store.idsOfType(type)), expr, depth, true);
      case "op": {
        const { left, right, op } = expr;
        if (op === "or") {
          return union(
            await this.exprIds(type, left, depth),
            await this.exprIds(type, right, depth),
          );
        }
        if (op === "and" && containsCall(left) && !containsCall(right)) {
          const candidates = await this.exprIds(type, right, depth);
          return this.filter(type, candidates, left, depth, true);
        }
        const base = await this.exprIds(type, left, depth);
        if (base.size === 0) return base;
        if (containsCall(right)) return this.filter(type, base, right, depth, op === "and");
        const other = await this.exprIds(type, right, depth);
        const out = new Set<string>();
        for (const id of base) if (other.has(id) === (op === "and")) out.add(id);
        return out;
      }
    }
  }

  private async arrowIds(
    type: string,
    relation: string,
    target: string,
    depth: number,
  ): Promise<Set<string>> {
    const out = new Set<string>();
    const def = this.schema.entities.get(type);
    const types = new Set(def?.relations.get(relation)?.types.map((t) => t.type) ?? []);
    for (const targetType of types) {
      const targetDef = this.schema.entities.get(targetType);
      if (!targetDef || !memberOf(targetDef, target)) continue;
      const ids = await this.idsWith(targetType, target, depth - 1);
      if (ids.size === 0) continue;
      const found = await this.store.entitiesBySubjects(type, relation, targetType, [...ids], null);
      for (const id of found) out.add(id);
    }
    return out;
  }

  /** Keeps the candidates for which `expr` evaluates to `keep`, using forward evaluation. */
  private async filter(
    type: string,
    candidates: Set<string>,
    expr: Expr,
    depth: number,
    keep: boolean,
  ): Promise<Set<string>> {
    const out = new Set<string>();
    for (const id of candidates) {
      if ((await this.checker.expr({ type, id }, expr, depth)) === keep) out.add(id);
    }
    return out;
  }
}

function union(a: Set<string>, b: Set<string>): Set<string> {
  if (a.size === 0) return b;
  const out = new Set(a);
  for (const x of b) out.add(x);
  return out;
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
