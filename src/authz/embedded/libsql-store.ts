import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../db/database";
import { authzAttributes, authzTuples } from "../../db/schema/authz";
import { type Clock, systemClock } from "../../lib/clock";
import type {
  Attribute,
  AttributeValue,
  EntityRef,
  RelationshipFilter,
  SubjectRef,
  Tuple,
} from "../authorizer";
import { normRelation, subjectRef, type TupleStore } from "./store";

/** Rows per INSERT and ids per IN (…): well under SQLite's bound-parameter limit. */
const CHUNK = 500;

/*
 * The hot read paths (check, reverse lookup) go straight to the drizzle database's libSQL client
 * with fixed SQL: building each query through drizzle's query builder cost ~0.1 ms per query,
 * several times the query itself. Table and column names are those of db/schema/authz.ts.
 */
const SQL_SUBJECTS_OF =
  "SELECT subject_type, subject_id, subject_relation FROM authz_tuples WHERE entity_type = ? AND entity_id = ? AND relation = ?";
const SQL_ATTRIBUTE =
  "SELECT value FROM authz_attributes WHERE entity_type = ? AND attribute = ? AND entity_id = ?";

/** The durable store: tuples and attributes in libSQL via drizzle (tables in db/schema/authz). */
export class LibsqlTupleStore implements TupleStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async subjectsOf(entity: EntityRef, relation: string): Promise<SubjectRef[]> {
    const rs = await this.db.$client.execute({
      sql: SQL_SUBJECTS_OF,
      args: [entity.type, entity.id, relation],
    });
    return rs.rows.map((r) => subjectRef(String(r[0]), String(r[1]), String(r[2])));
  }

  async entitiesBySubjects(
    entityType: string,
    relation: string,
    subjectType: string,
    subjectIds: readonly string[],
    subjectRelation: string | null,
  ): Promise<string[]> {
    const out = new Set<string>();
    for (let i = 0; i < subjectIds.length; i += CHUNK) {
      const ids = subjectIds.slice(i, i + CHUNK);
      const byRelation = subjectRelation === null ? "" : " AND subject_relation = ?";
      const rs = await this.db.$client.execute({
        sql: `SELECT entity_id FROM authz_tuples WHERE entity_type = ? AND relation = ? AND subject_type = ? AND subject_id IN (${ids.map(() => "?").join(",")})${byRelation}`,
        args: [
          entityType,
          relation,
          subjectType,
          ...ids,
          ...(subjectRelation === null ? [] : [subjectRelation]),
        ],
      });
      for (const r of rs.rows) out.add(String(r[0]));
    }
    return [...out];
  }

  async attribute(entity: EntityRef, name: string): Promise<AttributeValue | undefined> {
    const rs = await this.db.$client.execute({
      sql: SQL_ATTRIBUTE,
      args: [entity.type, name, entity.id],
    });
    const row = rs.rows[0];
    return row === undefined ? undefined : asValue(JSON.parse(String(row[0])));
  }

  async attributesOf(entityType: string, name: string) {
    const rows = await this.db
      .select({ id: authzAttributes.entityId, value: authzAttributes.value })
      .from(authzAttributes)
      .where(and(eq(authzAttributes.entityType, entityType), eq(authzAttributes.attribute, name)));
    return rows.map((r) => ({ id: r.id, value: asValue(r.value) }));
  }

  async idsOfType(type: string): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>(
      sql`SELECT ${authzTuples.entityId} AS id FROM ${authzTuples} WHERE ${authzTuples.entityType} = ${type}
          UNION SELECT ${authzTuples.subjectId} FROM ${authzTuples} WHERE ${authzTuples.subjectType} = ${type}
          UNION SELECT ${authzAttributes.entityId} FROM ${authzAttributes} WHERE ${authzAttributes.entityType} = ${type}`,
    );
    return rows.map((r) => String(r.id));
  }

  async writeTuples(tuples: readonly Tuple[]): Promise<void> {
    const now = this.clock.now();
    for (let i = 0; i < tuples.length; i += CHUNK) {
      const rows = tuples.slice(i, i + CHUNK).map((t) => ({
        entityType: t.entity.type,
        entityId: t.entity.id,
        relation: t.relation,
        subjectType: t.subject.type,
        subjectId: t.subject.id,
        subjectRelation: normRelation(t.subject.relation),
        createdAt: now,
      }));
      await this.db.insert(authzTuples).values(rows).onConflictDoNothing();
    }
  }

  async writeAttributes(attributes: readonly Attribute[]): Promise<void> {
    const now = this.clock.now();
    for (let i = 0; i < attributes.length; i += CHUNK) {
      const rows = attributes.slice(i, i + CHUNK).map((a) => ({
        entityType: a.entity.type,
        attribute: a.attribute,
        entityId: a.entity.id,
        value: a.value,
        updatedAt: now,
      }));
      await this.db
        .insert(authzAttributes)
        .values(rows)
        .onConflictDoUpdate({
          target: [authzAttributes.entityType, authzAttributes.attribute, authzAttributes.entityId],
          set: { value: sql`excluded.value`, updatedAt: now },
        });
    }
  }

  async deleteTuples(f: RelationshipFilter): Promise<number> {
    const conditions: SQL[] = [eq(authzTuples.entityType, f.entityType)];
    if (f.entityIds) conditions.push(inArray(authzTuples.entityId, [...f.entityIds]));
    if (f.relation !== undefined) conditions.push(eq(authzTuples.relation, f.relation));
    if (f.subjectType !== undefined) conditions.push(eq(authzTuples.subjectType, f.subjectType));
    if (f.subjectIds) conditions.push(inArray(authzTuples.subjectId, [...f.subjectIds]));
    if (f.subjectRelation !== undefined) {
      conditions.push(eq(authzTuples.subjectRelation, normRelation(f.subjectRelation)));
    }
    const result = await this.db.delete(authzTuples).where(and(...conditions));
    return result.rowsAffected;
  }
}

/** Values were validated against the schema on write; this only guards the JSON round trip. */
function asValue(value: unknown): AttributeValue {
  if (typeof value === "boolean" || typeof value === "number" || typeof value === "string") {
    return value;
  }
  if (Array.isArray(value)) return value as AttributeValue;
  throw new Error(`corrupt attribute value ${JSON.stringify(value)}`);
}
