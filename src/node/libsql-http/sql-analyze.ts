import type { SqlPiece, Token } from "./sql-lexer";

/** What we need to know about one SQL statement before and after running it. */
export interface StmtAnalysis {
  /** Parameter names by 1-based index minus one (`null` = anonymous `?`), as SQLite numbers them. */
  params: (string | null)[];
  isExplain: boolean;
  /** INSERT/REPLACE: sqld reports last_insert_rowid only for these. */
  isInsert: boolean;
  /** INSERT/UPDATE/DELETE: sqld reports affected_row_count only for these. */
  isIud: boolean;
  /** libSQL's `BEGIN ... READONLY` (what `@libsql/client` sends for "read" transactions). */
  beginsReadOnly: boolean;
  /**
   * Flag PRAGMAs take effect when *prepared*, not when run: never prepare one ahead of time
   * (syntax pre-check) nor reuse a cached one.
   */
  isPragma: boolean;
  /** Leaves per-connection state behind (PRAGMA, ATTACH, TEMP objects): do not pool it. */
  dirtiesConnection: boolean;
}

/** Mirrors sqlite3ExprAssignVarNumber(): `?` takes the next index, `?N` index N, names dedupe. */
function parameterNames(tokens: Token[]): (string | null)[] {
  const names: (string | null)[] = [];
  const byName = new Map<string, number>();
  let count = 0;
  for (const token of tokens) {
    if (token.kind !== "param") continue;
    const text = token.text;
    if (text === "?") {
      count++;
      names[count - 1] = null;
    } else if (text.startsWith("?")) {
      const index = Number.parseInt(text.slice(1), 10);
      if (!Number.isSafeInteger(index) || index < 1) continue; // prepare() reports it
      count = Math.max(count, index);
      names[index - 1] = text;
    } else {
      const known = byName.get(text);
      if (known !== undefined) continue;
      count++;
      byName.set(text, count);
      names[count - 1] = text;
    }
  }
  return Array.from({ length: count }, (_, i) => names[i] ?? null);
}

const MAIN_VERBS = new Set(["SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE"]);

/** The statement's main verb, looking past a leading `WITH ... AS (...)` clause. */
function mainVerb(words: Token[], tokens: Token[]): string | undefined {
  const first = words[0]?.text;
  if (first !== "WITH") return first;
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === "lparen") depth++;
    else if (token.kind === "rparen") depth--;
    else if (depth === 0 && token.kind === "word" && MAIN_VERBS.has(token.text)) return token.text;
  }
  return undefined;
}

export function analyzeStatement(piece: SqlPiece): StmtAnalysis {
  const words = piece.tokens.filter((t) => t.kind === "word");
  const first = words[0]?.text;
  const verb = mainVerb(words, piece.tokens);
  const isInsert = verb === "INSERT" || verb === "REPLACE";
  return {
    params: parameterNames(piece.tokens),
    isExplain: first === "EXPLAIN",
    isInsert,
    isIud: isInsert || verb === "UPDATE" || verb === "DELETE",
    isPragma: first === "PRAGMA",
    beginsReadOnly: first === "BEGIN" && words.some((w) => w.text === "READONLY"),
    dirtiesConnection:
      first === "PRAGMA" ||
      first === "ATTACH" ||
      first === "DETACH" ||
      (first === "CREATE" && (words[1]?.text === "TEMP" || words[1]?.text === "TEMPORARY")),
  };
}
