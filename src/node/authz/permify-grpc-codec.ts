import { grpc } from "@permify/permify-node";
import type {
  Attribute,
  AttributeValue,
  CheckContext,
  EntityRef,
  RelationshipFilter,
  SubjectRef,
  Tuple,
} from "../../authz/authorizer";
import { attributeWireValue, type PermifySession } from "../../authz/permify/session";

/** Seam types ⇄ the ts-proto messages shipped in `@permify/permify-node` (the source of truth). */
type Base = typeof grpc.base;
type ProtoTuple = ReturnType<Base["Tuple"]["create"]>;
type ProtoAttribute = ReturnType<Base["Attribute"]["create"]>;
type ProtoContext = ReturnType<Base["Context"]["create"]>;
type ProtoAny = NonNullable<ProtoAttribute["value"]>;
type ProtoTupleFilter = ReturnType<Base["TupleFilter"]["create"]>;

const TYPE_PREFIX = "type.googleapis.com/";

/** Encoders for every `base.v1.*Value` wrapper an attribute can use, by full type name. */
const WRAPPERS = {
  "base.v1.BooleanValue": grpc.base.BooleanValue,
  "base.v1.StringValue": grpc.base.StringValue,
  "base.v1.IntegerValue": grpc.base.IntegerValue,
  "base.v1.DoubleValue": grpc.base.DoubleValue,
  "base.v1.BooleanArrayValue": grpc.base.BooleanArrayValue,
  "base.v1.StringArrayValue": grpc.base.StringArrayValue,
  "base.v1.IntegerArrayValue": grpc.base.IntegerArrayValue,
  "base.v1.DoubleArrayValue": grpc.base.DoubleArrayValue,
} as const;

type Wrapper = { encode(m: { data: unknown }): { finish(): Uint8Array } };
type Unwrapper = { decode(b: Uint8Array): { data: unknown } };

export function entityProto(e: EntityRef) {
  return { type: e.type, id: e.id };
}

export function subjectProto(s: SubjectRef) {
  return { type: s.type, id: s.id, relation: s.relation ?? "" };
}

export function tupleProto(t: Tuple): ProtoTuple {
  return { entity: entityProto(t.entity), relation: t.relation, subject: subjectProto(t.subject) };
}

export function attributeProto(a: Attribute, session: PermifySession): ProtoAttribute {
  const declared = session.attributeType(a.entity.type, a.attribute);
  const { typeName, data } = attributeWireValue(a.value, declared);
  const value = packValue(typeName, data);
  return { entity: entityProto(a.entity), attribute: a.attribute, value };
}

/** Packs `data` into the `google.protobuf.Any` of a `base.v1.*Value` wrapper; undefined if unknown. */
export function packValue(typeName: string, data: unknown): ProtoAny | undefined {
  if (!(typeName in WRAPPERS)) return undefined;
  const wrapper: Wrapper = WRAPPERS[typeName as keyof typeof WRAPPERS];
  return { typeUrl: TYPE_PREFIX + typeName, value: Buffer.from(wrapper.encode({ data }).finish()) };
}

/** Decodes a packed attribute value (used by the test stand-ins); undefined if unknown type. */
export function attributeValueOf(any: ProtoAny | undefined): AttributeValue | undefined {
  if (!any) return undefined;
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  if (!(name in WRAPPERS)) return undefined;
  const unwrapper: Unwrapper = WRAPPERS[name as keyof typeof WRAPPERS];
  return unwrapper.decode(any.value).data as AttributeValue;
}

export function contextProto(c: CheckContext | undefined, session: PermifySession): ProtoContext {
  return {
    tuples: (c?.tuples ?? []).map(tupleProto),
    attributes: (c?.attributes ?? []).map((a) => attributeProto(a, session)),
    data: { ...(c?.data ?? {}) },
  };
}

export function readMetadataProto(session: PermifySession, depth: number) {
  return { snapToken: session.snapToken, schemaVersion: session.schemaVersion, depth };
}

export function tupleFilterProto(f: RelationshipFilter): ProtoTupleFilter {
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
