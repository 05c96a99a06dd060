import { toHranaError } from "./errors";
import type { ExecContext } from "./execute";
import type { DescribeResult } from "./protocol";
import { analyzeStatement } from "./sql-analyze";
import { splitStatements } from "./sql-lexer";

/** Opcodes that make sqlite3_stmt_readonly() false (vdbeaux.c resolveP2Values). */
const WRITE_OPCODES = new Set(["Vacuum", "JournalMode", "Checkpoint", "VUpdate"]);

/**
 * `libsql` exposes neither sqlite3_stmt_readonly() nor parameter names, so `describe` derives them:
 * names from the tokens, read-only-ness from the statement's bytecode (EXPLAIN).
 */
export function describeSql(ctx: ExecContext, sql: string): DescribeResult {
  const piece = splitStatements(sql)[0];
  const analysis = piece === undefined ? undefined : analyzeStatement(piece);
  // Preparing a PRAGMA applies it (sqld's describe does the same): keep it out of the pool.
  if (analysis?.dirtiesConnection) ctx.conn.dirty = true;
  try {
    const stmt = ctx.conn.prepareUncached(sql);
    const cols = stmt.reader ? stmt.columns() : [];
    return {
      params: (analysis?.params ?? []).map((name) => ({ name })),
      cols: cols.map((c) => ({ name: c.name, decltype: c.type })),
      is_explain: analysis?.isExplain ?? false,
      is_readonly: analysis?.isExplain === true || isReadonly(ctx, sql),
    };
  } catch (err) {
    throw toHranaError(err, ctx.errors);
  }
}

function isReadonly(ctx: ExecContext, sql: string): boolean {
  const rows = ctx.conn.prepareUncached(`EXPLAIN ${sql}`).all();
  return rows.every((row) => {
    if (!Array.isArray(row)) return true;
    const [, opcode, , p2] = row as unknown[];
    if (opcode === "Transaction") return p2 === 0n || p2 === 0;
    return typeof opcode !== "string" || !WRITE_OPCODES.has(opcode);
  });
}
