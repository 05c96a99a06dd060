import { grpc } from "@permify/permify-node";
import {
  type Attribute,
  type Authorizer,
  AuthzError,
  type CheckRequest,
  type LookupEntityRequest,
  type LookupSubjectRequest,
  type RelationshipFilter,
  type Tuple,
} from "../../authz/authorizer";
import { GrpcCode, type PermifyOp, permifyError } from "../../authz/permify/errors";
import { AttemptFailure, type RetryPolicy, retrying, retryPolicy } from "../../authz/permify/retry";
import {
  DEFAULT_REMOTE_DEPTH,
  type PermifyCommonOptions,
  PermifySession,
} from "../../authz/permify/session";
import * as codec from "./permify-grpc-codec";

export type PermifyGrpcOptions = PermifyCommonOptions & {
  /** `host:port` of Permify's gRPC listener (default port 3478). */
  endpoint: string;
  /**
   * Plaintext channel (the API key and every answer readable on the way); default false: TLS with
   * the system roots (or `cert`). Only for a Permify on the same host or a trusted network.
   */
  insecure?: boolean;
  cert?: Buffer;
};

const PAGE_SIZE = 100;
type PermifyClient = ReturnType<typeof grpc.newClient>;
const RETRYABLE = new Set<number>([GrpcCode.UNAVAILABLE, GrpcCode.DEADLINE_EXCEEDED]);

/** `Authorizer` over Permify's gRPC API via `@permify/permify-node` (Node only). */
export class PermifyGrpcAuthorizer implements Authorizer {
  private readonly client: PermifyClient;
  private readonly session: PermifySession;
  private readonly tenantId: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: PermifyGrpcOptions) {
    const config = {
      endpoint: options.endpoint,
      cert: options.cert ?? null,
      pk: null,
      certChain: null,
      insecure: options.insecure ?? false,
    };
    this.client = options.apiKey
      ? grpc.newClient(config, grpc.newAccessTokenInterceptor(options.apiKey))
      : grpc.newClient(config);
    this.session = new PermifySession(options.depth ?? DEFAULT_REMOTE_DEPTH);
    this.tenantId = options.tenant;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retry = retryPolicy(options);
  }

  async writeSchema(dsl: string): Promise<void> {
    const res = await this.call("schema", (signal) =>
      this.client.schema.write({ tenantId: this.tenantId, schema: dsl }, { signal }),
    );
    this.session.noteSchema(dsl, res.schemaVersion);
  }

  writeRelationships(tuples: readonly Tuple[]): Promise<void> {
    return this.writeData(tuples, []);
  }

  writeAttributes(attributes: readonly Attribute[]): Promise<void> {
    return this.writeData([], attributes);
  }

  /** Permify's delete response has only a snap token, so the count is unknown (-1). */
  async deleteRelationships(filter: RelationshipFilter): Promise<number> {
    const tupleFilter = codec.tupleFilterProto(filter);
    const res = await this.call("write", (signal) =>
      this.client.data.delete({ tenantId: this.tenantId, tupleFilter }, { signal }),
    );
    this.session.noteSnapToken(res.snapToken);
    return -1;
  }

  async check(request: CheckRequest): Promise<{ allowed: boolean }> {
    const message = {
      tenantId: this.tenantId,
      metadata: codec.readMetadataProto(this.session, this.session.depth(request.depth)),
      entity: codec.entityProto(request.entity),
      permission: request.permission,
      subject: codec.subjectProto(request.subject),
      context: codec.contextProto(request.context, this.session),
    };
    const res = await this.call("read", (signal) =>
      this.client.permission.check(message, { signal }),
    );
    return { allowed: res.can === grpc.base.CheckResult.CHECK_RESULT_ALLOWED };
  }

  async lookupEntity(request: LookupEntityRequest): Promise<string[]> {
    const base = {
      tenantId: this.tenantId,
      metadata: codec.readMetadataProto(this.session, this.session.depth(request.depth)),
      entityType: request.entityType,
      permission: request.permission,
      subject: codec.subjectProto(request.subject),
      context: codec.contextProto(request.context, this.session),
      pageSize: PAGE_SIZE,
    };
    return this.paged(async (continuousToken, signal) => {
      const res = await this.client.permission.lookupEntity(
        { ...base, continuousToken },
        { signal },
      );
      return { ids: res.entityIds, next: res.continuousToken };
    });
  }

  async lookupSubject(request: LookupSubjectRequest): Promise<string[]> {
    const ref = request.subjectReference;
    const base = {
      tenantId: this.tenantId,
      metadata: codec.readMetadataProto(this.session, this.session.depth(request.depth)),
      entity: codec.entityProto(request.entity),
      permission: request.permission,
      subjectReference: { type: ref.type, relation: ref.relation ?? "" },
      context: codec.contextProto(request.context, this.session),
      pageSize: PAGE_SIZE,
    };
    return this.paged(async (continuousToken, signal) => {
      const res = await this.client.permission.lookupSubject(
        { ...base, continuousToken },
        { signal },
      );
      return { ids: res.subjectIds, next: res.continuousToken };
    });
  }

  private async writeData(tuples: readonly Tuple[], attributes: readonly Attribute[]) {
    const message = {
      tenantId: this.tenantId,
      metadata: { schemaVersion: this.session.schemaVersion },
      tuples: tuples.map(codec.tupleProto),
      attributes: attributes.map((a) => codec.attributeProto(a, this.session)),
    };
    const res = await this.call("write", (signal) => this.client.data.write(message, { signal }));
    this.session.noteSnapToken(res.snapToken);
  }

  private async paged(
    page: (token: string, signal: AbortSignal) => Promise<{ ids: string[]; next: string }>,
  ): Promise<string[]> {
    const ids: string[] = [];
    let token = "";
    do {
      const current = token;
      const res = await this.call("read", (signal) => page(current, signal));
      ids.push(...res.ids);
      token = res.next;
    } while (token !== "");
    return ids.sort();
  }

  private call<T>(op: PermifyOp, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return retrying(() => this.attempt(op, send), this.retry);
  }

  /** One call with its own deadline, enforced by aborting (nice-grpc cancels the RPC). */
  private async attempt<T>(op: PermifyOp, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      return await send(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        const msg = `Permify ${op} timed out after ${this.timeoutMs} ms`;
        throw new AttemptFailure(new AuthzError("timeout", msg), true);
      }
      const { code, details } = statusOf(error);
      throw new AttemptFailure(
        permifyError(op, code, details, this.options.apiKey),
        RETRYABLE.has(code),
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** nice-grpc's `ClientError` carries `code` and `details`; anything else is a transport fault. */
function statusOf(error: unknown): { code: number; details: string } {
  if (typeof error === "object" && error !== null && "code" in error && "details" in error) {
    const { code, details } = error;
    if (typeof code === "number" && typeof details === "string") return { code, details };
  }
  const text = error instanceof Error ? error.message : String(error);
  return { code: GrpcCode.UNAVAILABLE, details: `transport error: ${text}` };
}
