import { Connection } from "./connection";

/**
 * Reuses idle connections for new streams: `client.execute()` opens and closes a stream per call,
 * and opening a connection costs more than running a point query. Connections that changed their
 * own state (PRAGMA, ATTACH, TEMP objects) are closed instead of reused.
 */
export class ConnectionPool {
  readonly #path: string;
  readonly #maxIdle: number;
  readonly #idle: Connection[] = [];
  readonly #open = new Set<Connection>();

  constructor(path: string, maxIdle = 8) {
    this.#path = path;
    this.#maxIdle = maxIdle;
  }

  /** Opens the first connection eagerly so a bad path fails at startup, and switches to WAL. */
  init(): void {
    const conn = this.acquire();
    conn.enableWal();
    this.release(conn);
  }

  acquire(): Connection {
    const conn = this.#idle.pop() ?? new Connection(this.#path);
    this.#open.add(conn);
    return conn;
  }

  /** Returns a stream's connection; an open transaction is rolled back first. */
  release(conn: Connection): void {
    if (!this.#open.delete(conn)) return;
    const reusable = conn.rollback() && !conn.dirty && this.#idle.length < this.#maxIdle;
    if (reusable) this.#idle.push(conn);
    else conn.close();
  }

  get openCount(): number {
    return this.#open.size;
  }

  closeAll(): void {
    for (const conn of [...this.#open, ...this.#idle]) conn.close();
    this.#open.clear();
    this.#idle.length = 0;
  }
}
