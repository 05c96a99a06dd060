/**
 * Error taxonomy, mirroring sqld (libsql-server/src/hrana):
 * - ProtocolError: the client violated the protocol (bad JSON, bad baton) → HTTP 400, text/plain.
 * - StreamExpiredError: the baton's stream expired → HTTP 500 with a JSON `{message, code}` body.
 * - HranaError: a statement/request failed → `{type: "error"}` result inside a 200 response.
 */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

export class StreamExpiredError extends Error {
  override readonly name = "StreamExpiredError";
  readonly code = "STREAM_EXPIRED";
  constructor() {
    super("The stream has expired due to inactivity");
  }
}

export class HranaError extends Error {
  override readonly name = "HranaError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Primary SQLite result codes by number (the low byte of an extended code). */
const PRIMARY_CODES: Record<number, string> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  12: "SQLITE_NOTFOUND",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  15: "SQLITE_PROTOCOL",
  17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  22: "SQLITE_NOLFS",
  23: "SQLITE_AUTH",
  25: "SQLITE_RANGE",
  26: "SQLITE_NOTADB",
};

/** The shape of errors thrown by the `libsql` package (better-sqlite3 compatible). */
export interface SqliteErrorLike {
  message: string;
  code: string;
  rawCode?: number;
}

export function isSqliteError(err: unknown): err is SqliteErrorLike {
  if (!(err instanceof Error)) return false;
  const { code } = err as { code?: unknown };
  return typeof code === "string" && (code.startsWith("SQLITE_") || "rawCode" in err);
}

/** SQLITE_BUSY (and its retryable variants); BUSY_SNAPSHOT needs a new transaction, not a retry. */
export function isRetryableBusy(err: unknown): boolean {
  return isSqliteError(err) && /^SQLITE_BUSY(_RECOVERY|_TIMEOUT)?$/.test(err.code);
}

const SYNTAX_MESSAGE = /syntax error|incomplete input|unrecognized token/;

/** Whether a prepare() failure is a parse error (sqld rejects those before executing anything). */
export function isSyntaxError(err: unknown): boolean {
  return isSqliteError(err) && SYNTAX_MESSAGE.test(err.message);
}

export interface ErrorMapping {
  /** sqld reports the primary code (`SQLITE_CONSTRAINT`); opt in to `SQLITE_CONSTRAINT_UNIQUE`. */
  extendedCodes: boolean;
}

/** Maps whatever a statement threw to a Hrana error object, with sqld's codes and messages. */
export function toHranaError(err: unknown, mapping: ErrorMapping): HranaError {
  if (err instanceof HranaError) return err;
  if (isSqliteError(err)) {
    if (SYNTAX_MESSAGE.test(err.message)) {
      return new HranaError(`SQL string could not be parsed: ${err.message}`, "SQL_PARSE_ERROR");
    }
    return new HranaError(`SQLite error: ${err.message}`, sqliteCodeName(err, mapping));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HranaError(`Internal error: ${message}`, "INTERNAL_ERROR");
}

function sqliteCodeName(err: SqliteErrorLike, mapping: ErrorMapping): string {
  if (mapping.extendedCodes) return err.code;
  if (typeof err.rawCode === "number") return PRIMARY_CODES[err.rawCode & 0xff] ?? "SQLITE_UNKNOWN";
  const primary = Object.values(PRIMARY_CODES).find(
    (name) => err.code === name || err.code.startsWith(`${name}_`),
  );
  return primary ?? "SQLITE_UNKNOWN";
}
