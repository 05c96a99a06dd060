import { grpc } from "@permify/permify-node";
import {
  type Attribute,
  AuthzError,
  type AuthzErrorCode,
  type CheckContext,
  type RelationshipFilter,
  type SubjectRef,
  type Tuple,
} from "../../src/authz/authorizer";
import { EmbeddedAuthorizer } from "../../src/authz/embedded/engine";
import { MemoryTupleStore } from "../../src/authz/embedded/memory-store";
import { attributeValueOf } from "../../src/node/authz/permify-grpc-codec";

/**
 * The Permify behaviour both stand-ins share, on the ts-proto messages shipped in
 * `@permify/permify-node`: auth and tenant checks, snap tokens, depth validation, request log,
 * injected faults. Evaluation is delegated to the embedded engine.
 */
const P = grpc.payload;
type Msg<K extends keyof typeof P> = (typeof P)[K] extends { create(): infer R } ? R : never;
type ProtoTuple = ReturnType<typeof grpc.base.Tuple.create>;
type ProtoAttribute = ReturnType<typeof grpc.base.Attribute.create>;
type ProtoContext = ReturnType<typeof grpc.base.Context.create>;

/** A Permify-style failure: gRPC status, the gateway's HTTP status, and the `ERROR_CODE_…` name. */
export class PermifyFault extends Error {
  constructor(
    readonly grpcCode: number,
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
  }
}

export type Fault = { kind: "unavailable" } | { kind: "delay"; ms: number };
export type Recorded = { method: string; authorization: string | undefined; message: unknown };

const FROM_ENGINE: Record<AuthzErrorCode, [number, number, string]> = {
  schema_invalid: [3, 400, "ERROR_CODE_SCHEMA_COMPILE"],
  schema_missing: [5, 404, "ERROR_CODE_SCHEMA_NOT_FOUND"],
  unsupported: [3, 400, "ERROR_CODE_NOT_SUPPORTED_WALK"],
  unknown_entity: [5, 404, "ERROR_CODE_ENTITY_TYPE_NOT_FOUND"],
  unknown_permission: [5, 404, "ERROR_CODE_PERMISSION_NOT_FOUND"],
  invalid_relationship: [3, 400, "ERROR_CODE_VALIDATION"],
  invalid_request: [3, 400, "ERROR_CODE_VALIDATION"],
  depth_exhausted: [3, 400, "ERROR_CODE_DEPTH_NOT_ENOUGH"],
  invalid_depth: [3, 400, "ERROR_CODE_VALIDATION"],
  rule_failed: [3, 400, "ERROR_CODE_EXECUTION"],
  unauthenticated: [16, 401, "ERROR_CODE_UNAUTHENTICATED"],
  unavailable: [14, 503, "ERROR_CODE_INTERNAL"],
  timeout: [4, 504, "ERROR_CODE_CANCELLED"],
};

export class PermifyBackend {
  readonly requests: Recorded[] = [];
  private readonly faults: Fault[] = [];
  private readonly engine = new EmbeddedAuthorizer(new MemoryTupleStore());
  private snap = 0;
  private schemas = 0;

  constructor(private readonly auth: { tenant: string; apiKey: string }) {}

  /** Queues faults, consumed one per incoming request. */
  inject(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  async admit(
    method: string,
    tenantId: string,
    authorization: string | undefined,
    message: unknown,
  ) {
    this.requests.push({ method, authorization, message });
    const fault = this.faults.shift();
    if (fault?.kind === "unavailable") throw new PermifyFault(14, 503, "ERROR_CODE_INTERNAL");
    if (fault?.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
    if (authorization !== `Bearer ${this.auth.apiKey}`) {
      throw new PermifyFault(16, 401, "ERROR_CODE_INVALID_BEARER_TOKEN");
    }
    if (tenantId !== this.auth.tenant)
      throw new PermifyFault(5, 404, "ERROR_CODE_TENANT_NOT_FOUND");
  }

  check(m: Msg<"PermissionCheckRequest">): Promise<Msg<"PermissionCheckResponse">> {
    return engineCall(async () => {
      const { allowed } = await this.engine.check({
        entity: required(m.entity),
        permission: m.permission,
        subject: subjectOf(m.subject),
        depth: depthOf(m.metadata),
        context: contextOf(m.context),
      });
      const can = allowed ? 1 : 2;
      return { can, metadata: { checkCount: 0 } };
    });
  }

  lookupEntity(
    m: Msg<"PermissionLookupEntityRequest">,
  ): Promise<Msg<"PermissionLookupEntityResponse">> {
    return engineCall(async () => {
      const ids = await this.engine.lookupEntity({
        entityType: m.entityType,
        permission: m.permission,
        subject: subjectOf(m.subject),
        depth: depthOf(m.metadata),
        context: contextOf(m.context),
      });
      const [entityIds, continuousToken] = page(ids, m.pageSize, m.continuousToken);
      return { entityIds, continuousToken };
    });
  }

  lookupSubject(
    m: Msg<"PermissionLookupSubjectRequest">,
  ): Promise<Msg<"PermissionLookupSubjectResponse">> {
    return engineCall(async () => {
      const ref = required(m.subjectReference);
      const ids = await this.engine.lookupSubject({
        entity: required(m.entity),
        permission: m.permission,
        subjectReference: ref.relation ? ref : { type: ref.type },
        depth: depthOf(m.metadata),
        context: contextOf(m.context),
      });
      const [subjectIds, continuousToken] = page(ids, m.pageSize, m.continuousToken);
      return { subjectIds, continuousToken };
    });
  }

  writeData(m: Msg<"DataWriteRequest">): Promise<Msg<"DataWriteResponse">> {
    return engineCall(async () => {
      await this.engine.writeRelationships(m.tuples.map(tupleOf));
      await this.engine.writeAttributes(m.attributes.map(attributeOf));
      return { snapToken: `snap-${++this.snap}` };
    });
  }

  deleteData(m: Msg<"DataDeleteRequest">): Promise<Msg<"DataDeleteResponse">> {
    return engineCall(async () => {
      await this.engine.deleteRelationships(filterOf(required(m.tupleFilter)));
      return { snapToken: `snap-${++this.snap}` };
    });
  }

  writeSchema(m: Msg<"SchemaWriteRequest">): Promise<Msg<"SchemaWriteResponse">> {
    return engineCall(async () => {
      await this.engine.writeSchema(m.schema);
      return { schemaVersion: `v${++this.schemas}` };
    });
  }
}

async function engineCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AuthzError)) throw error;
    const [grpcCode, http, name] = FROM_ENGINE[error.code];
    throw new PermifyFault(grpcCode, http, name);
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new PermifyFault(3, 400, "ERROR_CODE_VALIDATION");
  return value;
}

/** Permify validates `depth >= 3`; 0 (unset) is rejected too, which catches a missing depth. */
function depthOf(metadata: { depth: number } | undefined): number {
  const depth = metadata?.depth ?? 0;
  if (depth < 3) throw new PermifyFault(3, 400, "ERROR_CODE_VALIDATION");
  return depth;
}

function page(ids: string[], size: number, token: string): [string[], string] {
  const start = token === "" ? 0 : Number(token);
  const end = size > 0 ? start + size : ids.length;
  return [ids.slice(start, end), end < ids.length ? String(end) : ""];
}

function subjectOf(s: { type: string; id: string; relation: string } | undefined): SubjectRef {
  const { type, id, relation } = required(s);
  return relation ? { type, id, relation } : { type, id };
}

function tupleOf(t: ProtoTuple): Tuple {
  return { entity: required(t.entity), relation: t.relation, subject: subjectOf(t.subject) };
}

function attributeOf(a: ProtoAttribute): Attribute {
  const value = attributeValueOf(a.value);
  if (value === undefined) throw new PermifyFault(3, 400, "ERROR_CODE_TYPE_CONVERSATION");
  return { entity: required(a.entity), attribute: a.attribute, value };
}

function contextOf(c: ProtoContext | undefined): CheckContext {
  return {
    tuples: (c?.tuples ?? []).map(tupleOf),
    attributes: (c?.attributes ?? []).map(attributeOf),
    data: c?.data ?? {},
  };
}

function filterOf(f: NonNullable<Msg<"DataDeleteRequest">["tupleFilter"]>): RelationshipFilter {
  const entity = required(f.entity);
  const filter: RelationshipFilter = { entityType: entity.type };
  if (entity.ids.length) filter.entityIds = entity.ids;
  if (f.relation) filter.relation = f.relation;
  if (f.subject?.type) filter.subjectType = f.subject.type;
  if (f.subject?.ids.length) filter.subjectIds = f.subject.ids;
  if (f.subject?.relation) filter.subjectRelation = f.subject.relation;
  return filter;
}
