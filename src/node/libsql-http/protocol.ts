import { z } from "zod";
import { ProtocolError } from "./errors";

/** Hrana-over-HTTP JSON shapes, as sent by `@libsql/hrana-client` (http/json_encode.js). */

const ValueSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("null") }),
  z.object({ type: z.literal("integer"), value: z.union([z.string(), z.number()]) }),
  z.object({ type: z.literal("float"), value: z.number() }),
  z.object({ type: z.literal("text"), value: z.string() }),
  z.object({ type: z.literal("blob"), base64: z.string() }),
]);
export type ProtoValue = z.infer<typeof ValueSchema>;

const SqlIdSchema = z.number().int();

const StmtSchema = z.object({
  sql: z.string().nullish(),
  sql_id: SqlIdSchema.nullish(),
  args: z.array(ValueSchema).nullish(),
  named_args: z.array(z.object({ name: z.string(), value: ValueSchema })).nullish(),
  want_rows: z.boolean().nullish(),
});
export type ProtoStmt = z.infer<typeof StmtSchema>;

export type BatchCond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and" | "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

const BatchCondSchema: z.ZodType<BatchCond> = z.lazy(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.enum(["ok", "error"]), step: z.number().int().nonnegative() }),
    z.object({ type: z.literal("not"), cond: BatchCondSchema }),
    z.object({ type: z.enum(["and", "or"]), conds: z.array(BatchCondSchema) }),
    z.object({ type: z.literal("is_autocommit") }),
  ]),
);

const BatchSchema = z.object({
  steps: z.array(z.object({ condition: BatchCondSchema.nullish(), stmt: StmtSchema })),
});
export type ProtoBatch = z.infer<typeof BatchSchema>;

const SqlRefSchema = { sql: z.string().nullish(), sql_id: SqlIdSchema.nullish() };

const StreamRequestSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("close") }),
  z.object({ type: z.literal("execute"), stmt: StmtSchema }),
  z.object({ type: z.literal("batch"), batch: BatchSchema }),
  z.object({ type: z.literal("sequence"), ...SqlRefSchema }),
  z.object({ type: z.literal("describe"), ...SqlRefSchema }),
  z.object({ type: z.literal("store_sql"), sql_id: SqlIdSchema, sql: z.string() }),
  z.object({ type: z.literal("close_sql"), sql_id: SqlIdSchema }),
  z.object({ type: z.literal("get_autocommit") }),
]);
export type StreamRequest = z.infer<typeof StreamRequestSchema>;

const PipelineReqSchema = z.object({
  baton: z.string().nullish(),
  requests: z.array(StreamRequestSchema),
});
export type PipelineReqBody = z.infer<typeof PipelineReqSchema>;

const CursorReqSchema = z.object({ baton: z.string().nullish(), batch: BatchSchema });
export type CursorReqBody = z.infer<typeof CursorReqSchema>;

function parseWith<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where =
    issue === undefined ? "" : ` at ${issue.path.join(".") || "<root>"}: ${issue.message}`;
  throw new ProtocolError(`Cannot deserialize client message from JSON (${what})${where}`);
}

export const parsePipelineReq = (body: unknown): PipelineReqBody =>
  parseWith(PipelineReqSchema, body, "pipeline request");
export const parseCursorReq = (body: unknown): CursorReqBody =>
  parseWith(CursorReqSchema, body, "cursor request");

/** A value as bound to / read from `libsql` with safe integers on. */
export type SqlValue = null | bigint | number | string | Buffer;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

export function decodeValue(value: ProtoValue): SqlValue {
  switch (value.type) {
    case "null":
      return null;
    case "integer": {
      const text = String(value.value);
      if (!/^-?\d+$/.test(text)) throw new ProtocolError(`Invalid integer value: ${text}`);
      const int = BigInt(text);
      if (int < I64_MIN || int > I64_MAX) throw new ProtocolError(`Integer out of range: ${text}`);
      return int;
    }
    case "float":
      return value.value;
    case "text":
      return value.value;
    case "blob":
      return Buffer.from(value.base64, "base64");
  }
}

export function encodeValue(value: unknown): ProtoValue {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") return { type: "integer", value: value.toString() };
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof Uint8Array) {
    return { type: "blob", base64: Buffer.from(value).toString("base64") };
  }
  return { type: "text", value: String(value) };
}

export interface ProtoError {
  message: string;
  code: string;
}

export interface ProtoCol {
  name: string | null;
  decltype: string | null;
}

export interface StmtResult {
  cols: ProtoCol[];
  rows: ProtoValue[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
  query_duration_ms: number;
}

export interface BatchResult {
  step_results: (StmtResult | null)[];
  step_errors: (ProtoError | null)[];
}

export interface DescribeResult {
  params: { name: string | null }[];
  cols: { name: string; decltype: string | null }[];
  is_explain: boolean;
  is_readonly: boolean;
}

export type StreamResponse =
  | { type: "close" | "sequence" | "store_sql" | "close_sql" }
  | { type: "execute"; result: StmtResult }
  | { type: "batch"; result: BatchResult }
  | { type: "describe"; result: DescribeResult }
  | { type: "get_autocommit"; is_autocommit: boolean };

export type StreamResult =
  | { type: "ok"; response: StreamResponse }
  | { type: "error"; error: ProtoError };

export interface PipelineRespBody {
  baton: string | null;
  base_url: string | null;
  results: StreamResult[];
}

/** Hrana protocol version served by an endpoint: `/v2/...` or `/v3/...`. */
export type HranaVersion = 2 | 3;
