import type {
  Attribute,
  AttributeValue,
  EntityRef,
  RelationshipFilter,
  SubjectRef,
  Tuple,
} from "../authorizer";
import { matchesFilter, normRelation, subjectRef, type TupleStore } from "./store";

type Row = { entityType: string; entityId: string; relation: string; s: SubjectRef; sRel: string };

/** In-memory store for the validate command, tests and contextual tuples. Indexed both ways. */
export class MemoryTupleStore implements TupleStore {
  private readonly rows = new Map<string, Row>();
  private readonly forward = new Map<string, Set<string>>();
  private readonly reverse = new Map<string, Set<string>>();
  private readonly attrs = new Map<string, Map<string, AttributeValue>>();

  async subjectsOf(entity: EntityRef, relation: string): Promise<SubjectRef[]> {
    const keys = this.forward.get(fwdKey(entity.type, entity.id, relation));
    if (!keys) return [];
    const out: SubjectRef[] = [];
    for (const k of keys) {
      const row = this.rows.get(k);
      if (row) out.push(row.s);
    }
    return out;
  }

  async entitiesBySubjects(
    entityType: string,
    relation: string,
    subjectType: string,
    subjectIds: readonly string[],
    subjectRelation: string | null,
  ): Promise<string[]> {
    const out = new Set<string>();
    for (const id of subjectIds) {
      const keys = this.reverse.get(revKey(entityType, relation, subjectType, id));
      if (!keys) continue;
      for (const k of keys) {
        const row = this.rows.get(k);
        if (row && (subjectRelation === null || row.sRel === subjectRelation))
          out.add(row.entityId);
      }
    }
    return [...out];
  }

  async attribute(entity: EntityRef, name: string): Promise<AttributeValue | undefined> {
    return this.attrs.get(`${entity.type}\u0000${name}`)?.get(entity.id);
  }

  async attributesOf(entityType: string, name: string) {
    const byId = this.attrs.get(`${entityType}\u0000${name}`);
    return byId ? [...byId].map(([id, value]) => ({ id, value })) : [];
  }

  async idsOfType(type: string): Promise<string[]> {
    const ids = new Set<string>();
    for (const row of this.rows.values()) {
      if (row.entityType === type) ids.add(row.entityId);
      if (row.s.type === type) ids.add(row.s.id);
    }
    for (const [key, byId] of this.attrs) {
      if (key.startsWith(`${type}\u0000`)) for (const id of byId.keys()) ids.add(id);
    }
    return [...ids];
  }

  async writeTuples(tuples: readonly Tuple[]): Promise<void> {
    for (const t of tuples) {
      const sRel = normRelation(t.subject.relation);
      const key = tupleKey(t, sRel);
      if (this.rows.has(key)) continue;
      const s = subjectRef(t.subject.type, t.subject.id, sRel);
      this.rows.set(key, {
        entityType: t.entity.type,
        entityId: t.entity.id,
        relation: t.relation,
        s,
        sRel,
      });
      addTo(this.forward, fwdKey(t.entity.type, t.entity.id, t.relation), key);
      addTo(this.reverse, revKey(t.entity.type, t.relation, s.type, s.id), key);
    }
  }

  async writeAttributes(attributes: readonly Attribute[]): Promise<void> {
    for (const a of attributes) {
      const key = `${a.entity.type}\u0000${a.attribute}`;
      let byId = this.attrs.get(key);
      if (!byId) {
        byId = new Map();
        this.attrs.set(key, byId);
      }
      byId.set(a.entity.id, a.value);
    }
  }

  async deleteTuples(filter: RelationshipFilter): Promise<number> {
    let deleted = 0;
    for (const [key, row] of this.rows) {
      const t: Tuple = {
        entity: { type: row.entityType, id: row.entityId },
        relation: row.relation,
        subject: row.s,
      };
      if (!matchesFilter(t, filter)) continue;
      this.rows.delete(key);
      this.forward.get(fwdKey(row.entityType, row.entityId, row.relation))?.delete(key);
      this.reverse.get(revKey(row.entityType, row.relation, row.s.type, row.s.id))?.delete(key);
      deleted++;
    }
    return deleted;
  }
}

const SEP = "\u0000";

function fwdKey(type: string, id: string, relation: string): string {
  return [type, id, relation].join(SEP);
}

function revKey(type: string, relation: string, sType: string, sId: string): string {
  return [type, relation, sType, sId].join(SEP);
}

function tupleKey(t: Tuple, sRel: string): string {
  return [t.entity.type, t.entity.id, t.relation, t.subject.type, t.subject.id, sRel].join(SEP);
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}
