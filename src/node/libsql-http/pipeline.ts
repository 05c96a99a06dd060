import { protoError, runBatch } from "./batch";
import { describeSql } from "./describe";
import { type ErrorMapping, HranaError, ProtocolError } from "./errors";
import { type ExecContext, planStmt, resolveSql, runSequence, runStmt } from "./execute";
import type {
  HranaVersion,
  PipelineReqBody,
  PipelineRespBody,
  StreamRequest,
  StreamResponse,
  StreamResult,
} from "./protocol";
import type { HranaStream, StreamRegistry } from "./streams";

/** Server-wide settings shared by every Hrana request. */
export interface HranaContext {
  registry: StreamRegistry;
  busyTimeoutMs: number;
  errors: ErrorMapping;
}

/** sqld's limits on SQL texts cached with `store_sql` (libsql-server/src/hrana/http/request.rs). */
const MAX_STORED_SQLS = 50;
const MAX_STORED_SQL_BYTES = 5_000;

export function execContext(
  h: HranaContext,
  stream: HranaStream,
  version: HranaVersion,
): ExecContext {
  if (stream.conn === null) throw new ProtocolError("Stream for this baton was closed");
  const { busyTimeoutMs, errors } = h;
  return { conn: stream.conn, sqls: stream.sqls, version, busyTimeoutMs, errors };
}

async function respond(
  h: HranaContext,
  stream: HranaStream,
  version: HranaVersion,
  req: StreamRequest,
): Promise<StreamResponse> {
  switch (req.type) {
    case "close":
      h.registry.closeConnection(stream);
      return { type: "close" };
    case "execute": {
      const ctx = execContext(h, stream, version);
      return { type: "execute", result: await runStmt(ctx, planStmt(ctx, req.stmt)) };
    }
    case "batch":
      return { type: "batch", result: await runBatch(execContext(h, stream, version), req.batch) };
    case "sequence": {
      const ctx = execContext(h, stream, version);
      await runSequence(ctx, resolveSql(req.sql, req.sql_id, stream.sqls));
      return { type: "sequence" };
    }
    case "describe": {
      const ctx = execContext(h, stream, version);
      return {
        type: "describe",
        result: describeSql(ctx, resolveSql(req.sql, req.sql_id, ctx.sqls)),
      };
    }
    case "store_sql":
      storeSql(stream, req.sql_id, req.sql);
      return { type: "store_sql" };
    case "close_sql":
      stream.sqls.delete(req.sql_id);
      return { type: "close_sql" };
    case "get_autocommit":
      if (version < 3) {
        throw new ProtocolError(
          "The `get_autocommit` request is only supported in protocol version hrana3 and higher",
        );
      }
      return {
        type: "get_autocommit",
        is_autocommit: execContext(h, stream, version).conn.isAutocommit,
      };
  }
}

function storeSql(stream: HranaStream, sqlId: number, sql: string): void {
  if (stream.sqls.has(sqlId)) throw new ProtocolError(`SQL text ${sqlId} already exists`);
  if (stream.sqls.size >= MAX_STORED_SQLS) {
    throw new HranaError(
      `The server already stores ${stream.sqls.size} SQL texts, it cannot store more`,
      "SQL_STORE_TOO_MANY",
    );
  }
  const bytes = Buffer.byteLength(sql);
  if (bytes > MAX_STORED_SQL_BYTES) {
    throw new HranaError(
      `The statement is too large to be stored: ${bytes} B/${MAX_STORED_SQL_BYTES} B`,
      "SQL_STORE_TOO_LARGE",
    );
  }
  stream.sqls.set(sqlId, sql);
}

async function handleRequest(
  h: HranaContext,
  stream: HranaStream,
  version: HranaVersion,
  req: StreamRequest,
): Promise<StreamResult> {
  try {
    return { type: "ok", response: await respond(h, stream, version, req) };
  } catch (err) {
    if (err instanceof HranaError) return { type: "error", error: protoError(err) };
    throw err;
  }
}

/** POST /v2/pipeline and /v3/pipeline. Protocol errors close the stream and fail the request. */
export async function handlePipeline(
  h: HranaContext,
  version: HranaVersion,
  body: PipelineReqBody,
): Promise<{ resp: PipelineRespBody; streamId: string }> {
  const stream = h.registry.acquire(body.baton);
  try {
    const results: StreamResult[] = [];
    for (const req of body.requests) results.push(await handleRequest(h, stream, version, req));
    return {
      resp: { baton: h.registry.release(stream), base_url: null, results },
      streamId: stream.id,
    };
  } catch (err) {
    h.registry.discard(stream);
    throw err;
  }
}
