import Database from "libsql";

export type LibsqlStatement = Database.Statement;

const STATEMENT_CACHE_SIZE = 64;

/**
 * One `libsql` connection to the database file, owned by one Hrana stream at a time.
 * Keeps a small prepared-statement cache and emulates read-only transactions.
 */
export class Connection {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, LibsqlStatement>();
  readonly #aux: LibsqlStatement;
  #readOnlyTx = false;
  /** Set when a statement changed connection state that a later stream must not inherit. */
  dirty = false;

  constructor(path: string) {
    this.#db = new Database(path);
    // 64-bit integers must round-trip exactly; they travel as strings in the protocol.
    this.#db.defaultSafeIntegers(true);
    // busy_timeout would block the event loop (libsql is synchronous): we retry asynchronously.
    this.#db.exec("PRAGMA busy_timeout = 0");
    this.#db.exec("PRAGMA foreign_keys = ON");
    // WAL + NORMAL is durable across process crashes, which is what a dev database needs.
    this.#db.exec("PRAGMA synchronous = NORMAL");
    this.#aux = this.#db.prepare("SELECT changes(), last_insert_rowid()").raw(true);
  }

  /** Sets WAL mode (persistent in the file); done once by the pool, as it needs a lock. */
  enableWal(): string {
    const row = this.#db.prepare("PRAGMA journal_mode = WAL").raw(true).get();
    return Array.isArray(row) ? String(row[0]) : "unknown";
  }

  prepare(sql: string): LibsqlStatement {
    const cached = this.#cache.get(sql);
    if (cached !== undefined) {
      this.#cache.delete(sql);
      this.#cache.set(sql, cached);
      return cached;
    }
    const stmt = this.#db.prepare(sql);
    if (stmt.reader) stmt.raw(true);
    this.#cache.set(sql, stmt);
    if (this.#cache.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    return stmt;
  }

  /** For one-off statements (EXPLAIN in describe) that should not evict the cache. */
  prepareUncached(sql: string): LibsqlStatement {
    const stmt = this.#db.prepare(sql);
    if (stmt.reader) stmt.raw(true);
    return stmt;
  }

  get isAutocommit(): boolean {
    return !this.#db.inTransaction;
  }

  /** changes() and last_insert_rowid() of the last statement, exact for 64-bit rowids. */
  lastChange(): { changes: number; lastInsertRowid: bigint } {
    const row = this.#aux.get();
    const [changes, rowid] = Array.isArray(row) ? row : [0n, 0n];
    return {
      changes: Number(changes),
      lastInsertRowid: typeof rowid === "bigint" ? rowid : BigInt(Number(rowid ?? 0)),
    };
  }

  /**
   * libSQL accepts `BEGIN TRANSACTION READONLY` but does not enforce it, so a "read" transaction
   * would accept writes. query_only makes SQLite refuse them (SQLITE_READONLY) until it ends.
   */
  enterReadOnly(): void {
    this.#db.exec("PRAGMA query_only = ON");
    this.#readOnlyTx = true;
  }

  /** Called after every statement: lifts query_only once the read-only transaction is over. */
  syncReadOnly(): void {
    if (this.#readOnlyTx && !this.#db.inTransaction) {
      this.#db.exec("PRAGMA query_only = OFF");
      this.#readOnlyTx = false;
    }
  }

  /** Rolls back an open transaction; false if the connection is unusable afterwards. */
  rollback(): boolean {
    try {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
      this.syncReadOnly();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.#cache.clear();
    try {
      this.#db.close();
    } catch {
      // already closed
    }
  }
}
