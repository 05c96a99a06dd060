import type {
  Attribute,
  CheckContext,
  EntityRef,
  RelationshipFilter,
  SubjectRef,
  Tuple,
} from "../authorizer";
import { attributeWireValue, type PermifySession } from "./session";

/**
 * Permify's REST JSON (grpc-gateway protojson). We send proto field names (snake_case), which
 * protojson always accepts; responses are read in either spelling.
 */
export type Json = Record<string, unknown>;

export function entityJson(e: EntityRef): Json {
  return { type: e.type, id: e.id };
}

export function subjectJson(s: SubjectRef): Json {
  return { type: s.type, id: s.id, relation: s.relation ?? "" };
}

export function tupleJson(t: Tuple): Json {
  return { entity: entityJson(t.entity), relation: t.relation, subject: subjectJson(t.subject) };
}

/** An attribute value is a `google.protobuf.Any`: protojson writes it as `@type` + fields. */
export function attributeJson(a: Attribute, session: PermifySession): Json {
  const { typeName, data } = attributeWireValue(
    a.value,
    session.attributeType(a.entity.type, a.attribute),
  );
  return {
    entity: entityJson(a.entity),
    attribute: a.attribute,
    value: { "@type": `type.googleapis.com/${typeName}`, data },
  };
}

export function contextJson(c: CheckContext | undefined, session: PermifySession): Json {
  return {
    tuples: (c?.tuples ?? []).map(tupleJson),
    attributes: (c?.attributes ?? []).map((a) => attributeJson(a, session)),
    data: c?.data ?? {},
  };
}

/** Read metadata: the adapter's depth, plus the snap token and schema version we last saw. */
export function readMetadata(session: PermifySession, depth: number): Json {
  return { snap_token: session.snapToken, schema_version: session.schemaVersion, depth };
}

export function tupleFilterJson(f: RelationshipFilter): Json {
  return {
    entity: { type: f.entityType, ids: [...(f.entityIds ?? [])] },
    relation: f.relation ?? "",
    subject: {
      type: f.subjectType ?? "",
      ids: [...(f.subjectIds ?? [])],
      relation: f.subjectRelation ?? "",
    },
  };
}

/** A response field under its proto name or its lowerCamel JSON name. */
export function field(body: Json, snake: string): unknown {
  if (snake in body) return body[snake];
  return body[snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
}

export function stringField(body: Json, snake: string): string {
  const v = field(body, snake);
  return typeof v === "string" ? v : "";
}

export function stringsField(body: Json, snake: string): string[] {
  const v = field(body, snake);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** `can` is an enum: protojson writes its name, or its number with `UseEnumNumbers`. */
export function isAllowed(body: Json): boolean {
  const can = field(body, "can");
  return can === "CHECK_RESULT_ALLOWED" || can === 1;
}
