import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "./connection";
import {
  type ErrorMapping,
  HranaError,
  isRetryableBusy,
  isSyntaxError,
  ProtocolError,
  toHranaError,
} from "./errors";
import {
  decodeValue,
  encodeValue,
  type HranaVersion,
  type ProtoStmt,
  type SqlValue,
  type StmtResult,
} from "./protocol";
import { analyzeStatement, type StmtAnalysis } from "./sql-analyze";
import { splitStatements } from "./sql-lexer";

/** Everything a request needs to run statements on its stream. */
export interface ExecContext {
  conn: Connection;
  sqls: Map<number, string>;
  version: HranaVersion;
  busyTimeoutMs: number;
  errors: ErrorMapping;
}

export interface PlannedStmt {
  sql: string;
  analysis: StmtAnalysis;
  args: SqlValue[];
  named: Map<string, SqlValue>;
  wantRows: boolean;
}

export function resolveSql(
  sql: string | null | undefined,
  sqlId: number | null | undefined,
  sqls: Map<number, string>,
): string {
  const hasSql = typeof sql === "string";
  const hasId = typeof sqlId === "number";
  if (hasSql && hasId)
    throw new ProtocolError("Either `sql` or `sql_id` are required, but not both");
  if (hasSql) return sql;
  if (!hasId) throw new ProtocolError("Either `sql` or `sql_id` are required");
  const stored = sqls.get(sqlId);
  if (stored === undefined) throw new ProtocolError(`SQL text ${sqlId} not found`);
  return stored;
}

/** sqld parses SQL before running anything: a syntax error fails the whole request. */
export function checkSyntax(conn: Connection, sql: string, analysis: StmtAnalysis): void {
  if (analysis.isPragma) return;
  try {
    conn.prepare(sql);
  } catch (err) {
    if (isSyntaxError(err)) throw toHranaError(err, { extendedCodes: false });
    // other prepare errors (no such table, ...) surface when the statement runs
  }
}

/** Validates a statement the way sqld does before executing it (errors fail the whole request). */
export function planStmt(ctx: ExecContext, stmt: ProtoStmt): PlannedStmt {
  const text = resolveSql(stmt.sql, stmt.sql_id, ctx.sqls);
  const pieces = splitStatements(text);
  const piece = pieces[0];
  if (piece === undefined) {
    throw new HranaError("SQL string does not contain any statement", "SQL_NO_STATEMENT");
  }
  if (pieces.length > 1) {
    throw new HranaError("SQL string contains more than one statement", "SQL_MANY_STATEMENTS");
  }
  const args = (stmt.args ?? []).map(decodeValue);
  const named = new Map(
    (stmt.named_args ?? []).map((a) => [a.name, decodeValue(a.value)] as const),
  );
  if (args.length > 0 && named.size > 0) {
    throw new HranaError(
      "Specifying both positional and named arguments is not supported",
      "ARGS_BOTH_POSITIONAL_AND_NAMED",
    );
  }
  const analysis = analyzeStatement(piece);
  checkSyntax(ctx.conn, piece.sql, analysis);
  return {
    sql: piece.sql,
    analysis,
    args,
    named,
    wantRows: stmt.want_rows ?? true,
  };
}

/** sqld's Params::bind(): `?N` and anonymous params are positional, names match with or without prefix. */
function bindArgs(plan: PlannedStmt): SqlValue[] {
  const { params } = plan.analysis;
  const given = plan.named.size > 0 ? plan.named.size : plan.args.length;
  if (given > params.length) {
    throw argsInvalid(`too many parameters, expected ${params.length} found ${given}`);
  }
  const bound: SqlValue[] = [];
  for (const [i, name] of params.entries()) {
    let value: SqlValue | undefined;
    if (name === null) value = plan.named.size > 0 ? undefined : plan.args[i];
    else if (name.startsWith("?")) value = plan.args[Number.parseInt(name.slice(1), 10) - 1];
    else value = plan.named.get(name) ?? plan.named.get(name.slice(1));
    if (value === undefined) {
      if (plan.analysis.isExplain) break;
      throw argsInvalid(`value for parameter ${name ?? i + 1} not found`);
    }
    bound.push(value);
  }
  while (bound.length < params.length) bound.push(null);
  return bound;
}

const argsInvalid = (detail: string) =>
  new HranaError(`Arguments do not match SQL parameters: ${detail}`, "ARGS_INVALID");

function runOnce(conn: Connection, plan: PlannedStmt, bound: SqlValue[]): StmtResult {
  const started = performance.now();
  const { analysis } = plan;
  if (analysis.dirtiesConnection) conn.dirty = true;
  try {
    const stmt = analysis.isPragma ? conn.prepareUncached(plan.sql) : conn.prepare(plan.sql);
    // A reader (SELECT, RETURNING) must be stepped to completion: run() would leave it active.
    let rows: unknown[] = [];
    if (stmt.reader) rows = stmt.all(bound);
    else stmt.run(bound);
    const cols = stmt.reader ? stmt.columns() : [];
    const change = analysis.isIud ? conn.lastChange() : undefined;
    if (analysis.beginsReadOnly) conn.enterReadOnly();
    return {
      cols: cols.map((c) => ({ name: c.name, decltype: c.type })),
      rows: plan.wantRows
        ? rows.map((row) => (Array.isArray(row) ? row.map(encodeValue) : []))
        : [],
      affected_row_count: change?.changes ?? 0,
      last_insert_rowid:
        analysis.isInsert && change !== undefined ? change.lastInsertRowid.toString() : null,
      query_duration_ms: performance.now() - started,
    };
  } finally {
    conn.syncReadOnly();
  }
}

/**
 * Runs a statement, retrying SQLITE_BUSY with backoff until the busy timeout: a blocking busy
 * handler would freeze the event loop, and with it the stream that holds the lock.
 */
export async function runStmt(ctx: ExecContext, plan: PlannedStmt): Promise<StmtResult> {
  const bound = bindArgs(plan);
  const deadline = Date.now() + ctx.busyTimeoutMs;
  let delay = 1;
  for (;;) {
    try {
      return runOnce(ctx.conn, plan, bound);
    } catch (err) {
      const remaining = deadline - Date.now();
      if (!isRetryableBusy(err) || remaining <= 0) throw toHranaError(err, ctx.errors);
      await sleep(Math.min(delay, remaining));
      delay = Math.min(delay * 2, 25);
    }
  }
}

/** The `sequence` request: every statement in order, no arguments, stop at the first error. */
export async function runSequence(ctx: ExecContext, sql: string): Promise<void> {
  const planned = splitStatements(sql).map((piece) => ({
    sql: piece.sql,
    analysis: analyzeStatement(piece),
  }));
  for (const { sql: text, analysis } of planned) checkSyntax(ctx.conn, text, analysis);
  for (const { sql: text, analysis } of planned) {
    await runStmt(ctx, { sql: text, analysis, args: [], named: new Map(), wantRows: false });
  }
}
