import { chmodSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { JTI_RETENTION_AFTER_EXP_S } from "../../src/protocol/limits";
import type { ExecutionState, ReplayJournal } from "./journal";

export type JournalState = "accepted" | "running" | "done";

export type JournalEntry = {
  idem: string;
  itemId: string;
  seq: number;
  op: string;
  state: JournalState;
  leaseEpoch: number;
  attempt: number;
  resourceUid: string;
  gen: number;
  /** The signed token as received, so a restart can re-verify and resume. */
  token: string;
  /** The `result` body, once done. */
  result: Record<string, unknown> | null;
  /** The control plane answered 2xx to the result. */
  resultSent: boolean;
};

type Row = {
  idem: string;
  item_id: string;
  seq: number;
  op: string;
  state: string;
  lease_epoch: number;
  attempt: number;
  resource_uid: string;
  gen: number;
  token: string;
  result: string | null;
  result_sent: number;
};

const IDEM_RETENTION_MS = 30 * 86_400_000;

/**
 * The agent's durable journal (SQLite via node:sqlite, WAL with synchronous=FULL, so every commit
 * is fsync'd before the call returns). It records seen `jti`s, each `idem` as
 * accepted → running → done(result), applied generations and finished items, so that after a
 * crash the agent never runs an item twice and never loses a result (design §2.7).
 */
export class FileJournal implements ReplayJournal, ExecutionState {
  readonly #db: DatabaseSync;
  readonly #now: () => number;

  constructor(path: string, now: () => number = Date.now) {
    this.#db = new DatabaseSync(path);
    this.#now = now;
    chmodSync(path, 0o600);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS jtis (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS items (
        idem TEXT PRIMARY KEY, item_id TEXT NOT NULL, seq INTEGER NOT NULL, op TEXT NOT NULL,
        state TEXT NOT NULL, lease_epoch INTEGER NOT NULL, attempt INTEGER NOT NULL,
        resource_uid TEXT NOT NULL, gen INTEGER NOT NULL, token TEXT NOT NULL,
        result TEXT, result_sent INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS items_item ON items (item_id);
      CREATE TABLE IF NOT EXISTS generations (uid TEXT PRIMARY KEY, gen INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  }

  close(): void {
    this.#db.close();
  }

  // ReplayJournal
  async has(jti: string): Promise<boolean> {
    return this.#db.prepare("SELECT 1 FROM jtis WHERE jti = ?").get(jti) !== undefined;
  }

  async remember(jti: string, exp: number): Promise<boolean> {
    const nowS = Math.floor(this.#now() / 1000);
    this.#db.prepare("DELETE FROM jtis WHERE exp < ?").run(nowS - JTI_RETENTION_AFTER_EXP_S);
    const res = this.#db
      .prepare("INSERT OR IGNORE INTO jtis (jti, exp) VALUES (?, ?)")
      .run(jti, exp);
    return Number(res.changes) === 1;
  }

  // ExecutionState
  async isDone(idem: string): Promise<boolean> {
    return this.entry(idem)?.state === "done";
  }

  async hasStarted(idem: string): Promise<boolean> {
    return this.entry(idem)?.state === "running";
  }

  async appliedGeneration(uid: string): Promise<number | undefined> {
    const row = this.#db.prepare("SELECT gen FROM generations WHERE uid = ?").get(uid) as
      | { gen: number }
      | undefined;
    return row?.gen;
  }

  async isFinished(itemId: string): Promise<boolean> {
    const row = this.#db
      .prepare("SELECT 1 FROM items WHERE item_id = ? AND state = 'done'")
      .get(itemId);
    return row !== undefined;
  }

  entry(idem: string): JournalEntry | undefined {
    const row = this.#db.prepare("SELECT * FROM items WHERE idem = ?").get(idem) as Row | undefined;
    return row ? toEntry(row) : undefined;
  }

  /** Entries not finished, or finished with a result the CP has not acknowledged yet. */
  pending(): JournalEntry[] {
    const rows = this.#db
      .prepare("SELECT * FROM items WHERE state != 'done' OR result_sent = 0 ORDER BY seq")
      .all() as Row[];
    return rows.map(toEntry);
  }

  /** Design §2.5 step 7: written (and fsync'd) before the ack. */
  accept(e: Omit<JournalEntry, "state" | "result" | "resultSent">): void {
    const now = this.#now();
    this.#db
      .prepare("DELETE FROM items WHERE state = 'done' AND result_sent = 1 AND updated_at < ?")
      .run(now - IDEM_RETENTION_MS);
    this.#db
      .prepare(
        `INSERT INTO items (idem, item_id, seq, op, state, lease_epoch, attempt, resource_uid, gen,
           token, updated_at)
         VALUES (?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?)
         ON CONFLICT (idem) DO UPDATE SET item_id = excluded.item_id, seq = excluded.seq,
           lease_epoch = excluded.lease_epoch, attempt = excluded.attempt, token = excluded.token,
           updated_at = excluded.updated_at
         WHERE items.state != 'done'`,
      )
      .run(
        e.idem,
        e.itemId,
        e.seq,
        e.op,
        e.leaseEpoch,
        e.attempt,
        e.resourceUid,
        e.gen,
        e.token,
        now,
      );
  }

  running(idem: string): void {
    this.#db
      .prepare(
        "UPDATE items SET state = 'running', updated_at = ? WHERE idem = ? AND state = 'accepted'",
      )
      .run(this.#now(), idem);
  }

  /** The result is durable before it is sent; the generation counts as applied. */
  done(idem: string, result: Record<string, unknown>): void {
    const entry = this.entry(idem);
    if (!entry) throw new Error(`journal: unknown idem ${idem}`);
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#db
        .prepare("UPDATE items SET state = 'done', result = ?, updated_at = ? WHERE idem = ?")
        .run(JSON.stringify(result), this.#now(), idem);
      if (result.outcome === "succeeded") {
        this.#db
          .prepare(
            `INSERT INTO generations (uid, gen) VALUES (?, ?)
             ON CONFLICT (uid) DO UPDATE SET gen = max(gen, excluded.gen)`,
          )
          .run(entry.resourceUid, entry.gen);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** A re-delivery under a newer lease: the stored result goes out under that epoch. */
  rebind(idem: string, leaseEpoch: number, attempt: number): void {
    this.#db
      .prepare(
        "UPDATE items SET lease_epoch = ?, attempt = ?, result_sent = 0, updated_at = ? WHERE idem = ?",
      )
      .run(leaseEpoch, attempt, this.#now(), idem);
  }

  resultSent(idem: string): void {
    this.#db
      .prepare("UPDATE items SET result_sent = 1, updated_at = ? WHERE idem = ?")
      .run(this.#now(), idem);
  }

  getValue(key: string): string | undefined {
    const row = this.#db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setValue(key: string, value: string): void {
    this.#db
      .prepare(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(key, value);
  }
}

function toEntry(row: Row): JournalEntry {
  return {
    idem: row.idem,
    itemId: row.item_id,
    seq: Number(row.seq),
    op: row.op,
    state: row.state as JournalState,
    leaseEpoch: Number(row.lease_epoch),
    attempt: Number(row.attempt),
    resourceUid: row.resource_uid,
    gen: Number(row.gen),
    token: row.token,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
    resultSent: row.result_sent === 1,
  };
}
