/**
 * A small SQLite tokenizer: enough to split a SQL string into statements (like sqlite3_complete),
 * find bound parameters, and classify a statement. `libsql` exposes neither the prepare tail nor
 * sqlite3_bind_parameter_name, so we recover both from the tokens.
 */
export type TokenKind = "ws" | "semi" | "word" | "param" | "lparen" | "rparen" | "other";

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** Upper-cased text for words (keywords and bare identifiers), raw text for params. */
  text: string;
}

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\f" || c === "\r";
const isIdStart = (c: string) => /[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80;
const isIdChar = (c: string) => isIdStart(c) || /[0-9$]/.test(c);
const isDigit = (c: string) => c >= "0" && c <= "9";

/** Index just past a quoted run starting at `i`, honouring doubled-quote escapes. */
function skipQuoted(sql: string, i: number, close: string, doubled: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    if (sql[j] === close) {
      if (doubled && sql[j + 1] === close) j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

function skipWhile(sql: string, i: number, pred: (c: string) => boolean): number {
  let j = i;
  while (j < sql.length && pred(sql.charAt(j))) j++;
  return j;
}

/** End index of a `$name` parameter, which may contain `::` and end with a `(...)` suffix. */
function skipTclParam(sql: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const next = skipWhile(sql, j, isIdChar);
    if (sql.startsWith("::", next)) j = next + 2;
    else {
      j = next;
      break;
    }
  }
  if (sql[j] === "(") j = skipQuoted(sql, j, ")", false);
  return j;
}

function scanToken(sql: string, i: number): { kind: TokenKind; end: number } {
  const c = sql.charAt(i);
  const next = sql.charAt(i + 1);
  if (isSpace(c)) return { kind: "ws", end: skipWhile(sql, i, isSpace) };
  if (c === "-" && next === "-") {
    const nl = sql.indexOf("\n", i);
    return { kind: "ws", end: nl < 0 ? sql.length : nl + 1 };
  }
  if (c === "/" && next === "*") {
    const close = sql.indexOf("*/", i + 2);
    return { kind: "ws", end: close < 0 ? sql.length : close + 2 };
  }
  if (c === ";") return { kind: "semi", end: i + 1 };
  if (c === "(") return { kind: "lparen", end: i + 1 };
  if (c === ")") return { kind: "rparen", end: i + 1 };
  if (c === "'" || c === '"' || c === "`")
    return { kind: "other", end: skipQuoted(sql, i, c, true) };
  if (c === "[") return { kind: "other", end: skipQuoted(sql, i, "]", false) };
  if (c === "?") return { kind: "param", end: skipWhile(sql, i + 1, isDigit) };
  if ((c === ":" || c === "@" || c === "#") && isIdChar(next)) {
    return { kind: "param", end: skipWhile(sql, i + 1, isIdChar) };
  }
  if (c === "$" && isIdChar(next)) return { kind: "param", end: skipTclParam(sql, i) };
  if (isIdStart(c)) return { kind: "word", end: skipWhile(sql, i, isIdChar) };
  if (isDigit(c) || (c === "." && isDigit(next))) {
    return { kind: "other", end: skipWhile(sql, i, (ch) => /[0-9A-Za-z_.]/.test(ch)) };
  }
  return { kind: "other", end: i + 1 };
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const { kind, end } = scanToken(sql, i);
    const raw = sql.slice(i, end);
    tokens.push({ kind, start: i, end, text: kind === "word" ? raw.toUpperCase() : raw });
    i = end;
  }
  return tokens;
}

/** Token classes and transition table of SQLite's sqlite3_complete() (complete.c). */
const SEMI = 0;
const WS = 1;
const OTHER = 2;
const KEYWORD_CLASS: Record<string, number> = {
  EXPLAIN: 3,
  CREATE: 4,
  TEMP: 5,
  TEMPORARY: 5,
  TRIGGER: 6,
  END: 7,
};
const TRANSITIONS: readonly (readonly number[])[] = [
  /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* 1 START   */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* 2 NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* 4 CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* 6 SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* 7 END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];

function tokenClass(token: Token): number {
  if (token.kind === "semi") return SEMI;
  if (token.kind === "ws") return WS;
  if (token.kind === "word") return KEYWORD_CLASS[token.text] ?? OTHER;
  return OTHER;
}

export interface SqlPiece {
  sql: string;
  tokens: Token[];
}

/** Splits SQL into statements, keeping trigger bodies whole; empty statements are dropped. */
export function splitStatements(sql: string): SqlPiece[] {
  const pieces: SqlPiece[] = [];
  let state = 0;
  let current: Token[] = [];
  const flush = () => {
    const first = current.find((t) => t.kind !== "ws" && t.kind !== "semi");
    const last = current[current.length - 1];
    if (first !== undefined && last !== undefined) {
      pieces.push({ sql: sql.slice(first.start, last.end), tokens: current });
    }
    current = [];
  };
  for (const token of tokenize(sql)) {
    current.push(token);
    state = TRANSITIONS[state]?.[tokenClass(token)] ?? OTHER;
    if (token.kind === "semi" && state === 1) flush();
  }
  flush();
  return pieces;
}
