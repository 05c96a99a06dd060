import type {
  Attribute,
  Authorizer,
  CheckRequest,
  LookupEntityRequest,
  LookupSubjectRequest,
  RelationshipFilter,
  Tuple,
} from "./authorizer";
import { AuthzError } from "./authorizer";
import { GrpcCode, grpcCodeForHttp, type PermifyOp, permifyError } from "./permify/errors";
import { AttemptFailure, type RetryPolicy, retrying, retryPolicy } from "./permify/retry";
import { DEFAULT_REMOTE_DEPTH, type PermifyCommonOptions, PermifySession } from "./permify/session";
import * as wire from "./permify/wire";

export type PermifyRestOptions = PermifyCommonOptions & {
  /** Base URL of Permify's HTTP API, e.g. `http://permify:3476`. */
  url: string;
  fetch?: typeof fetch;
};

const PAGE_SIZE = 100;

/** `Authorizer` over Permify's REST API with `fetch` only, so it runs on Workers and Node. */
export class PermifyRestAuthorizer implements Authorizer {
  private readonly session: PermifySession;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: PermifyRestOptions) {
    this.session = new PermifySession(options.depth ?? DEFAULT_REMOTE_DEPTH);
    this.base = `${options.url.replace(/\/+$/, "")}/v1/tenants/${encodeURIComponent(options.tenant)}`;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retry = retryPolicy(options);
  }

  async writeSchema(dsl: string): Promise<void> {
    const body = await this.call("schema", "/schemas/write", { schema: dsl });
    this.session.noteSchema(dsl, wire.stringField(body, "schema_version"));
  }

  async writeRelationships(tuples: readonly Tuple[]): Promise<void> {
    await this.writeData(tuples, []);
  }

  async writeAttributes(attributes: readonly Attribute[]): Promise<void> {
    await this.writeData([], attributes);
  }

  /** Permify's delete response has only a snap token, so the count is unknown (-1). */
  async deleteRelationships(filter: RelationshipFilter): Promise<number> {
    const body = await this.call("write", "/data/delete", {
      tuple_filter: wire.tupleFilterJson(filter),
      attribute_filter: {},
    });
    this.session.noteSnapToken(wire.stringField(body, "snap_token"));
    return -1;
  }

  async check(request: CheckRequest): Promise<{ allowed: boolean }> {
    const body = await this.call("read", "/permissions/check", {
      metadata: wire.readMetadata(this.session, this.session.depth(request.depth)),
      entity: wire.entityJson(request.entity),
      permission: request.permission,
      subject: wire.subjectJson(request.subject),
      context: wire.contextJson(request.context, this.session),
    });
    return { allowed: wire.isAllowed(body) };
  }

  lookupEntity(request: LookupEntityRequest): Promise<string[]> {
    const depth = this.session.depth(request.depth);
    return this.paged("/permissions/lookup-entity", "entity_ids", {
      metadata: wire.readMetadata(this.session, depth),
      entity_type: request.entityType,
      permission: request.permission,
      subject: wire.subjectJson(request.subject),
      context: wire.contextJson(request.context, this.session),
    });
  }

  lookupSubject(request: LookupSubjectRequest): Promise<string[]> {
    const depth = this.session.depth(request.depth);
    return this.paged("/permissions/lookup-subject", "subject_ids", {
      metadata: wire.readMetadata(this.session, depth),
      entity: wire.entityJson(request.entity),
      permission: request.permission,
      subject_reference: {
        type: request.subjectReference.type,
        relation: request.subjectReference.relation ?? "",
      },
      context: wire.contextJson(request.context, this.session),
    });
  }

  private async writeData(tuples: readonly Tuple[], attributes: readonly Attribute[]) {
    const body = await this.call("write", "/data/write", {
      metadata: { schema_version: this.session.schemaVersion },
      tuples: tuples.map(wire.tupleJson),
      attributes: attributes.map((a) => wire.attributeJson(a, this.session)),
    });
    this.session.noteSnapToken(wire.stringField(body, "snap_token"));
  }

  /** Follows `continuous_token` until Permify has no more pages; ids come back sorted. */
  private async paged(path: string, key: string, request: wire.Json): Promise<string[]> {
    const ids: string[] = [];
    let token = "";
    do {
      const page = { ...request, page_size: PAGE_SIZE, continuous_token: token };
      const body = await this.call("read", path, page);
      ids.push(...wire.stringsField(body, key));
      token = wire.stringField(body, "continuous_token");
    } while (token !== "");
    return ids.sort();
  }

  private call(op: PermifyOp, path: string, payload: wire.Json): Promise<wire.Json> {
    return retrying(() => this.attempt(op, path, payload), this.retry);
  }

  private async attempt(op: PermifyOp, path: string, payload: wire.Json): Promise<wire.Json> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.fetchFn(`${this.base}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
      const body = await readJson(response);
      if (response.ok) return body;
      const grpcCode = typeof body.code === "number" ? body.code : grpcCodeForHttp(response.status);
      const message = typeof body.message === "string" ? body.message : `HTTP ${response.status}`;
      const failure = permifyError(op, grpcCode, message, this.options.apiKey);
      throw new AttemptFailure(failure, response.status >= 500 || response.status === 429);
    } catch (error) {
      if (error instanceof AttemptFailure) throw error;
      if (controller.signal.aborted) {
        const msg = `Permify ${op} ${path} timed out after ${this.timeoutMs} ms`;
        throw new AttemptFailure(new AuthzError("timeout", msg), true);
      }
      // fetch failed before any response: connection refused/reset, DNS, TLS.
      const failure = permifyError(op, GrpcCode.UNAVAILABLE, describe(error), this.options.apiKey);
      throw new AttemptFailure(failure, true);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readJson(response: Response): Promise<wire.Json> {
  const text = await response.text();
  if (text === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as wire.Json) : {};
  } catch {
    return { message: `non-JSON response (HTTP ${response.status})` };
  }
}

function describe(error: unknown): string {
  return `network error: ${error instanceof Error ? error.message : String(error)}`;
}
