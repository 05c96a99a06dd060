import { and, eq, inArray } from "drizzle-orm";
import type { Tuple } from "../authz/authorizer";
import { authzTuples } from "../db/schema";
import type { ServiceContext, Statement } from "./context";

/**
 * Authorization tuples as statements of the caller's batch, so a resource and the relationships
 * that describe it are committed together (the embedded authorizer reads this table).
 */
export function writeTuples(sc: ServiceContext, tuples: readonly Tuple[]): Statement[] {
  if (tuples.length === 0) return [];
  const createdAt = sc.deps.clock.now();
  return [
    sc.deps.db
      .insert(authzTuples)
      .values(
        tuples.map((t) => ({
          entityType: t.entity.type,
          entityId: t.entity.id,
          relation: t.relation,
          subjectType: t.subject.type,
          subjectId: t.subject.id,
          subjectRelation: t.subject.relation ?? "",
          createdAt,
        })),
      )
      .onConflictDoNothing(),
  ];
}

/** Deletes the tuples of `entity` (optionally only some relations, or only about one subject). */
export function deleteTuples(
  sc: ServiceContext,
  entity: { type: string; id: string },
  filter: { relations?: readonly string[]; subject?: { type: string; id: string } } = {},
): Statement {
  return sc.deps.db
    .delete(authzTuples)
    .where(
      and(
        eq(authzTuples.entityType, entity.type),
        eq(authzTuples.entityId, entity.id),
        filter.relations ? inArray(authzTuples.relation, [...filter.relations]) : undefined,
        filter.subject ? eq(authzTuples.subjectType, filter.subject.type) : undefined,
        filter.subject ? eq(authzTuples.subjectId, filter.subject.id) : undefined,
      ),
    );
}

/** Deletes every tuple that names `subject` (a removed member, a revoked token). */
export function deleteTuplesAbout(
  sc: ServiceContext,
  subject: { type: string; id: string },
  entityType?: string,
): Statement {
  return sc.deps.db
    .delete(authzTuples)
    .where(
      and(
        eq(authzTuples.subjectType, subject.type),
        eq(authzTuples.subjectId, subject.id),
        entityType === undefined ? undefined : eq(authzTuples.entityType, entityType),
      ),
    );
}
