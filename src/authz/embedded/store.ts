import type {
  Attribute,
  AttributeValue,
  EntityRef,
  RelationshipFilter,
  SubjectRef,
  Tuple,
} from "../authorizer";

/**
 * Where the evaluator reads tuples and attributes. Both directions are needed: forward
 * (entity#relation → subjects) for check, reverse (subjects → entities) for lookupEntity.
 * A subject relation is normalised to "" when absent (Permify's "..." means the same).
 */
export interface TupleStore {
  /** Subjects of `entity#relation`. */
  subjectsOf(entity: EntityRef, relation: string): Promise<SubjectRef[]>;
  /**
   * Ids of `entityType` entities whose `relation` points at one of `subjectIds` of `subjectType`.
   * `subjectRelation` null matches any subject relation (arrows follow the subject entity).
   */
  entitiesBySubjects(
    entityType: string,
    relation: string,
    subjectType: string,
    subjectIds: readonly string[],
    subjectRelation: string | null,
  ): Promise<string[]>;
  attribute(entity: EntityRef, name: string): Promise<AttributeValue | undefined>;
  /** Every `entityType` entity that has attribute `name`, with its value. */
  attributesOf(entityType: string, name: string): Promise<{ id: string; value: AttributeValue }[]>;
  /** Every id of `type` seen anywhere: as an entity, as a subject, or with an attribute. */
  idsOfType(type: string): Promise<string[]>;
  writeTuples(tuples: readonly Tuple[]): Promise<void>;
  writeAttributes(attributes: readonly Attribute[]): Promise<void>;
  deleteTuples(filter: RelationshipFilter): Promise<number>;
}

export function normRelation(relation: string | undefined): string {
  return relation === undefined || relation === "..." ? "" : relation;
}

/** The subject as the API shows it: no `relation` key when there is none. */
export function subjectRef(type: string, id: string, relation: string): SubjectRef {
  return relation === "" ? { type, id } : { type, id, relation };
}

export function matchesFilter(t: Tuple, f: RelationshipFilter): boolean {
  if (t.entity.type !== f.entityType) return false;
  if (f.entityIds && !f.entityIds.includes(t.entity.id)) return false;
  if (f.relation !== undefined && t.relation !== f.relation) return false;
  if (f.subjectType !== undefined && t.subject.type !== f.subjectType) return false;
  if (f.subjectIds && !f.subjectIds.includes(t.subject.id)) return false;
  if (f.subjectRelation !== undefined) {
    if (normRelation(t.subject.relation) !== normRelation(f.subjectRelation)) return false;
  }
  return true;
}
