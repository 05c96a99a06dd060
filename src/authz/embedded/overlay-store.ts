import { AuthzError, type CheckContext, type EntityRef, type SubjectRef } from "../authorizer";
import { MemoryTupleStore } from "./memory-store";
import type { TupleStore } from "./store";

/**
 * Read view of a store plus a request's contextual tuples and attributes (Permify's
 * `context.tuples` / `context.attributes`). Contextual attributes win over stored ones.
 */
export async function withContext(base: TupleStore, context?: CheckContext): Promise<TupleStore> {
  const tuples = context?.tuples ?? [];
  const attributes = context?.attributes ?? [];
  if (tuples.length === 0 && attributes.length === 0) return base;
  const extra = new MemoryTupleStore();
  await extra.writeTuples(tuples);
  await extra.writeAttributes(attributes);
  return new OverlayStore(base, extra);
}

class OverlayStore implements TupleStore {
  constructor(
    private readonly base: TupleStore,
    private readonly extra: TupleStore,
  ) {}

  async subjectsOf(entity: EntityRef, relation: string): Promise<SubjectRef[]> {
    const [a, b] = await Promise.all([
      this.base.subjectsOf(entity, relation),
      this.extra.subjectsOf(entity, relation),
    ]);
    return [...a, ...b];
  }

  async entitiesBySubjects(
    entityType: string,
    relation: string,
    subjectType: string,
    subjectIds: readonly string[],
    subjectRelation: string | null,
  ): Promise<string[]> {
    const args = [entityType, relation, subjectType, subjectIds, subjectRelation] as const;
    const [a, b] = await Promise.all([
      this.base.entitiesBySubjects(...args),
      this.extra.entitiesBySubjects(...args),
    ]);
    return [...new Set([...a, ...b])];
  }

  async attribute(entity: EntityRef, name: string) {
    return (await this.extra.attribute(entity, name)) ?? this.base.attribute(entity, name);
  }

  async attributesOf(entityType: string, name: string) {
    const [a, b] = await Promise.all([
      this.base.attributesOf(entityType, name),
      this.extra.attributesOf(entityType, name),
    ]);
    const byId = new Map(a.map((r) => [r.id, r.value]));
    for (const r of b) byId.set(r.id, r.value);
    return [...byId].map(([id, value]) => ({ id, value }));
  }

  async idsOfType(type: string): Promise<string[]> {
    const [a, b] = await Promise.all([this.base.idsOfType(type), this.extra.idsOfType(type)]);
    return [...new Set([...a, ...b])];
  }

  writeTuples(): Promise<void> {
    return readOnly();
  }

  writeAttributes(): Promise<void> {
    return readOnly();
  }

  deleteTuples(): Promise<number> {
    return readOnly();
  }
}

function readOnly(): never {
  throw new AuthzError("invalid_request", "a request context is read-only");
}
