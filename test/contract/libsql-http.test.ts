import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Client,
  type Config,
  createClient as createNodeClient,
  LibsqlBatchError,
  LibsqlError,
} from "@libsql/client";
import { createClient as createWebClient } from "@libsql/client/web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LibsqlHttpServer,
  type LibsqlHttpServerOptions,
  startLibsqlHttpServer,
} from "../../src/node/libsql-http/server";

/** A server on a fresh database file, plus clients that are all closed with it. */
function useServer(options: Omit<LibsqlHttpServerOptions, "dbPath"> = {}) {
  const state = { server: undefined as LibsqlHttpServer | undefined, dir: "" };
  const clients: Client[] = [];
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    state.dir = mkdtempSync(join(tmpdir(), "strato-libsql-http-"));
    state.server = await startLibsqlHttpServer({
      dbPath: join(state.dir, "db", "test.db"),
      logger: (line) => logs.push(line),
      ...options,
    });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await state.server?.close();
    rmSync(state.dir, { recursive: true, force: true });
  });
  const server = () => {
    if (state.server === undefined) throw new Error("server not started");
    return state.server;
  };
  /** `@libsql/client/web` (what the Worker uses) unless `node` is asked for. */
  const client = (config: Partial<Config> = {}, kind: "web" | "node" = "web") => {
    const create = kind === "web" ? createWebClient : createNodeClient;
    const created = create({ url: server().url, ...config });
    clients.push(created);
    return created;
  };
  return { server, client, logs };
}

async function rejection(promise: Promise<unknown>): Promise<LibsqlError> {
  const outcome = await promise.then(
    () => new Error("expected the promise to reject"),
    (err: unknown) => err,
  );
  if (!(outcome instanceof LibsqlError)) throw outcome;
  return outcome;
}

const count = async (client: Client, table: string) =>
  Number((await client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("libsql-http through @libsql/client", () => {
  const { server, client, logs } = useServer({ busyTimeoutMs: 5_000 });

  it("binds to 127.0.0.1 and logs one line per request", async () => {
    expect(server().url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await client().execute("SELECT 1");
    expect(logs.at(-1)).toMatchObject({ method: "POST", path: "/v2/pipeline", status: 200 });
    expect(logs.at(-1)?.requests).toEqual(["execute", "close"]);
  });

  it("round-trips every value type with positional args", async () => {
    const db = client();
    await db.execute(
      "CREATE TABLE vals (id INTEGER PRIMARY KEY, n TEXT, i INTEGER, big INTEGER, neg INTEGER, f REAL, t TEXT, b BLOB, eb BLOB)",
    );
    const insert = await db.execute({
      sql: "INSERT INTO vals (n, i, big, neg, f, t, b, eb) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      args: [
        null,
        42,
        9007199254740993n,
        -7,
        3.25,
        "héllo wörld 🌍 日本",
        new Uint8Array([0, 1, 255]),
        new Uint8Array(0),
      ],
    });
    expect(insert.rowsAffected).toBe(1);
    expect(insert.lastInsertRowid).toBe(1n);
    expect(insert.columns).toEqual([]);

    const asBigint = await client({ intMode: "bigint" }, "node").execute("SELECT * FROM vals");
    expect(asBigint.columns).toEqual(["id", "n", "i", "big", "neg", "f", "t", "b", "eb"]);
    expect(asBigint.columnTypes).toEqual([
      "INTEGER",
      "TEXT",
      "INTEGER",
      "INTEGER",
      "INTEGER",
      "REAL",
      "TEXT",
      "BLOB",
      "BLOB",
    ]);
    expect(asBigint.rowsAffected).toBe(0);
    expect(asBigint.lastInsertRowid).toBeUndefined();
    const row = asBigint.rows[0];
    expect(row?.n).toBeNull();
    expect(row?.i).toBe(42n);
    expect(row?.big).toBe(9007199254740993n);
    expect(row?.neg).toBe(-7n);
    expect(row?.f).toBe(3.25);
    expect(row?.t).toBe("héllo wörld 🌍 日本");
    expect(new Uint8Array(row?.b as ArrayBuffer)).toEqual(new Uint8Array([0, 1, 255]));
    expect(row?.eb).toBeInstanceOf(ArrayBuffer);
    expect((row?.eb as ArrayBuffer | undefined)?.byteLength).toBe(0);

    const asString = await client({ intMode: "string" }).execute("SELECT big, neg FROM vals");
    expect(asString.rows[0]?.big).toBe("9007199254740993");
    expect(asString.rows[0]?.neg).toBe("-7");
    const limits = await client({ intMode: "bigint" }).execute({
      sql: "SELECT ? AS max, ? AS min, typeof(?) AS kind",
      args: [9223372036854775807n, -9223372036854775808n, 2.0],
    });
    expect(limits.rows[0]).toMatchObject({
      max: 9223372036854775807n,
      min: -9223372036854775808n,
      kind: "real",
    });
  });

  it("accepts ArrayBuffer blobs, booleans and named args with any prefix", async () => {
    const db = client();
    const result = await db.execute({
      sql: "SELECT :a AS a, @b AS b, $c AS c, :blob AS blob, :flag AS flag",
      args: { a: 1, "@b": "two", c: null, blob: new Uint8Array([7, 8]).buffer, flag: true },
    });
    expect(result.rows[0]).toMatchObject({ a: 1, b: "two", c: null, flag: 1 });
    expect(new Uint8Array(result.rows[0]?.blob as ArrayBuffer)).toEqual(new Uint8Array([7, 8]));
    const numbered = await db.execute({
      sql: "SELECT ?2 AS second, ?1 AS first",
      args: ["x", "y"],
    });
    expect(numbered.rows[0]).toMatchObject({ first: "x", second: "y" });
  });

  it("runs write, read and deferred batches atomically", async () => {
    const db = client();
    const created = await db.batch(
      [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)",
        { sql: "INSERT INTO items (name) VALUES (?)", args: ["a"] },
        { sql: "INSERT INTO items (name) VALUES (?)", args: ["b"] },
      ],
      "write",
    );
    expect(created.map((r) => r.rowsAffected)).toEqual([0, 1, 1]);
    expect(created[2]?.lastInsertRowid).toBe(2n);

    const failed = await rejection(
      db.batch(
        [
          { sql: "INSERT INTO items (name) VALUES (?)", args: ["c"] },
          { sql: "UPDATE items SET name = 'renamed' WHERE name = 'a'", args: [] },
          { sql: "INSERT INTO items (name) VALUES (?)", args: ["b"] },
        ],
        "write",
      ),
    );
    expect(failed).toBeInstanceOf(LibsqlBatchError);
    expect((failed as LibsqlBatchError).statementIndex).toBe(2);
    expect(failed.code).toBe("SQLITE_CONSTRAINT");
    const names = await db.execute("SELECT name FROM items ORDER BY id");
    expect(names.rows.map((r) => r.name)).toEqual(["a", "b"]);

    const read = await db.batch(
      ["SELECT count(*) AS n FROM items", "SELECT name FROM items WHERE id = 1"],
      "read",
    );
    expect(read.map((r) => r.rows[0]?.[0])).toEqual([2, "a"]);
    const refused = await rejection(db.batch(["INSERT INTO items (name) VALUES ('ro')"], "read"));
    expect(refused.code).toBe("SQLITE_READONLY");
    // The (pooled) connection that ran the read batch must accept writes again.
    for (let i = 0; i < 3; i++)
      await db.execute({ sql: "INSERT INTO items (name) VALUES (?)", args: [`w${i}`] });

    const deferred = await db.batch(
      ["SELECT count(*) FROM items", "DELETE FROM items WHERE name LIKE 'w%'"],
      "deferred",
    );
    expect(deferred[1]?.rowsAffected).toBe(3);
    expect(await count(db, "items")).toBe(2);
  });

  it("keeps changes() across a batch's statements: a write guard rolls a lost write back", async () => {
    // src/domain/write-guard.ts relies on this over HTTP (the Worker) as much as locally.
    const db = client();
    await db.batch(
      [
        "CREATE TABLE guarded (id INTEGER PRIMARY KEY, state TEXT NOT NULL)",
        "CREATE TABLE guards (reason TEXT NOT NULL, CONSTRAINT stale_write CHECK (0))",
        "INSERT INTO guarded VALUES (1, 'a')",
      ],
      "write",
    );
    const guard = "INSERT INTO guards (reason) SELECT 'stale' WHERE changes() = 0";
    await db.batch(
      [
        "UPDATE guarded SET state = 'b' WHERE id = 1 AND state = 'a'",
        guard,
        "INSERT INTO guarded VALUES (2, 'effect')",
      ],
      "write",
    );
    const lost = await rejection(
      db.batch(
        [
          "UPDATE guarded SET state = 'c' WHERE id = 1 AND state = 'a'",
          guard,
          "INSERT INTO guarded VALUES (3, 'effect')",
        ],
        "write",
      ),
    );
    expect(lost.message).toMatch(/CHECK constraint failed: stale_write/);
    const rows = await db.execute("SELECT id, state FROM guarded ORDER BY id");
    expect(rows.rows.map((r) => [r.id, r.state])).toEqual([
      [1, "b"],
      [2, "effect"],
    ]);
  });

  it("runs executeMultiple (sequence) and migrate without leaking PRAGMA state", async () => {
    const db = client();
    await db.executeMultiple(`
      CREATE TABLE parents (id INTEGER PRIMARY KEY);
      CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents(id));
      CREATE TRIGGER parents_ai AFTER INSERT ON parents BEGIN SELECT 1; SELECT 2; END;
      INSERT INTO parents (id) VALUES (1);`);
    await db.migrate(["INSERT INTO children (parent) VALUES (99)"]); // foreign_keys off inside
    const fk = await rejection(db.execute("INSERT INTO children (parent) VALUES (42)"));
    expect(fk.code).toBe("SQLITE_CONSTRAINT");
    expect(fk.message).toContain("FOREIGN KEY constraint failed");
  });

  it("keeps interactive transactions across requests", async () => {
    const a = client();
    const b = client({}, "node");
    await a.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)");

    const tx = await a.transaction("write");
    await tx.execute({ sql: "INSERT INTO ledger (amount) VALUES (?)", args: [10] });
    await tx.batch([{ sql: "INSERT INTO ledger (amount) VALUES (?)", args: [20] }]);
    expect((await tx.execute("SELECT sum(amount) AS s FROM ledger")).rows[0]?.s).toBe(30);
    expect(await count(b, "ledger")).toBe(0);
    await tx.commit();
    expect(await count(b, "ledger")).toBe(2);

    const rolledBack = await a.transaction("write");
    await rolledBack.execute("INSERT INTO ledger (amount) VALUES (1)");
    await rolledBack.rollback();
    expect(await count(b, "ledger")).toBe(2);

    const abandoned = await a.transaction("write");
    await abandoned.execute("INSERT INTO ledger (amount) VALUES (2)");
    abandoned.close();
    // The write lock is released by the close request, so this write goes through.
    await b.execute("INSERT INTO ledger (amount) VALUES (3)");
    expect(
      (await b.execute("SELECT amount FROM ledger ORDER BY id")).rows.map((r) => r.amount),
    ).toEqual([10, 20, 3]);
  });

  it("serves concurrent clients and queues writers behind an open write transaction", async () => {
    const setup = client();
    await setup.execute(
      "CREATE TABLE events (id INTEGER PRIMARY KEY, client INTEGER, seq INTEGER)",
    );
    const writers = Array.from({ length: 10 }, () => client());
    await Promise.all(
      writers.map((db, c) =>
        Promise.all(
          Array.from({ length: 20 }, (_, seq) =>
            db.execute({ sql: "INSERT INTO events (client, seq) VALUES (?, ?)", args: [c, seq] }),
          ),
        ),
      ),
    );
    expect(await count(setup, "events")).toBe(200);

    const holder = await client().transaction("write");
    await holder.execute("INSERT INTO events (client, seq) VALUES (100, 0)");
    let settled = false;
    const started = Date.now();
    const waiting = client()
      .execute("INSERT INTO events (client, seq) VALUES (101, 0)")
      .finally(() => {
        settled = true;
      });
    await sleep(300);
    expect(settled).toBe(false);
    await holder.commit();
    await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await count(setup, "events")).toBe(202);
  });

  it("maps SQLite errors to sqld's codes", async () => {
    const db = client();
    await db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)");
    await db.execute("INSERT INTO users (id, email) VALUES (1, 'a@example.com')");

    const unique = await rejection(
      db.execute("INSERT INTO users (email) VALUES ('a@example.com')"),
    );
    expect(unique.code).toBe("SQLITE_CONSTRAINT"); // sqld reports the primary code
    expect(unique.message).toBe(
      "SQLITE_CONSTRAINT: SQLite error: UNIQUE constraint failed: users.email",
    );
    expect(unique.rawCode).toBeUndefined(); // the HTTP client does not carry it (not with sqld either)
    const pk = await rejection(db.execute("INSERT INTO users (id) VALUES (1)"));
    expect(pk.code).toBe("SQLITE_CONSTRAINT");
    expect(pk.message).toContain("UNIQUE constraint failed: users.id");

    const syntax = await rejection(db.execute("SELEC 1"));
    expect(syntax.code).toBe("SQL_PARSE_ERROR");
    expect(syntax.message).toContain('near "SELEC": syntax error');
    const missing = await rejection(db.execute("SELECT * FROM nope"));
    expect(missing.code).toBe("SQLITE_ERROR");
    expect(missing.message).toContain("no such table: nope");
    expect((await rejection(db.execute("SELECT 1; SELECT 2"))).code).toBe("SQL_MANY_STATEMENTS");
    expect((await rejection(db.execute({ sql: "SELECT ?, ?", args: [1] }))).code).toBe(
      "ARGS_INVALID",
    );
    expect(await count(db, "users")).toBe(1);
  });
});

describe("libsql-http stream expiry", () => {
  const { client } = useServer({ streamIdleTimeoutMs: 300, busyTimeoutMs: 200 });

  it("rolls back an abandoned transaction and reports the expired stream", async () => {
    const db = client();
    await db.execute("CREATE TABLE t (x INTEGER)");
    const tx = await db.transaction("write");
    await tx.execute("INSERT INTO t VALUES (1)");
    await sleep(800);
    // With a 200 ms busy timeout this only succeeds because the expired stream released the lock.
    await client().execute("INSERT INTO t VALUES (2)");
    const expired = await rejection(tx.execute("INSERT INTO t VALUES (3)"));
    expect(expired.code).toBe("STREAM_EXPIRED");
    expect(expired.message).toContain("expired due to inactivity");
    expect((await db.execute("SELECT x FROM t")).rows.map((r) => r.x)).toEqual([2]);
  });
});

describe("libsql-http request limits, auth and raw HTTP", () => {
  const { server, client } = useServer({
    maxRequestBytes: 64 * 1024,
    authToken: "s3cret",
    extendedErrorCodes: true,
  });
  const url = (path: string) => `${server().url}${path}`;
  const auth = { authorization: "Bearer s3cret", "content-type": "application/json" };

  it("refuses oversized requests with 413 and keeps serving", async () => {
    for (const kind of ["web", "node"] as const) {
      const db = client({ authToken: "s3cret" }, kind);
      const tooBig = await rejection(
        db.execute({ sql: "SELECT length(?)", args: ["x".repeat(200 * 1024)] }),
      );
      expect(tooBig.code).toBe("REQUEST_TOO_LARGE");
      expect(tooBig.message).toContain("exceeds the limit of 65536 bytes");
      expect((await db.execute({ sql: "SELECT length(?) AS n", args: ["ok"] })).rows[0]?.n).toBe(2);
    }
  });

  it("requires the bearer token when one is configured", async () => {
    const anonymous = await rejection(client().execute("SELECT 1"));
    expect(anonymous.code).toBe("SERVER_ERROR");
    expect(anonymous.message).toContain("HTTP status 401");
    expect((await rejection(client({ authToken: "wrong" }).execute("SELECT 1"))).message).toContain(
      "401",
    );
    const ok = await client({ authToken: "s3cret" }).execute("SELECT 41 + 1 AS answer");
    expect(ok.rows[0]?.answer).toBe(42);
  });

  it("can report extended SQLite codes", async () => {
    const db = client({ authToken: "s3cret" });
    await db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT UNIQUE)");
    await db.execute("INSERT INTO u VALUES (1, 'a')");
    expect((await rejection(db.execute("INSERT INTO u (v) VALUES ('a')"))).code).toBe(
      "SQLITE_CONSTRAINT_UNIQUE",
    );
    expect((await rejection(db.execute("INSERT INTO u (id) VALUES (1)"))).code).toBe(
      "SQLITE_CONSTRAINT_PRIMARYKEY",
    );
  });

  it("answers raw HTTP like sqld", async () => {
    expect((await fetch(url("/v3"), { headers: auth })).status).toBe(200);
    expect((await fetch(url("/v2"), { headers: auth })).status).toBe(200);
    expect((await fetch(url("/v3-protobuf"), { headers: auth })).status).toBe(404);
    expect((await fetch(url("/nope"))).status).toBe(404);
    expect((await fetch(url("/health"))).status).toBe(200);
    expect(await (await fetch(url("/version"))).text()).toContain("strato-libsql-http");
    const wrongMethod = await fetch(url("/v2/pipeline"), { headers: auth });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    const post = (path: string, body: string) =>
      fetch(url(path), { method: "POST", headers: auth, body });
    // A web page's request (it carries an Origin; database clients do not) runs nothing.
    const fromPage = await fetch(url("/v2/pipeline"), {
      method: "POST",
      headers: { ...auth, origin: "https://evil.example", "content-type": "text/plain" },
      body: JSON.stringify({
        requests: [{ type: "execute", stmt: { sql: "CREATE TABLE pwned (x)" } }],
      }),
    });
    expect(fromPage.status).toBe(403);
    expect(
      (
        await client({ authToken: "s3cret" }).execute(
          "SELECT name FROM sqlite_master WHERE name = 'pwned'",
        )
      ).rows,
    ).toEqual([]);
    const malformed = await post("/v2/pipeline", "{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain("Cannot deserialize client message from JSON");
    expect(
      (await post("/v2/pipeline", JSON.stringify({ requests: [{ type: "nope" }] }))).status,
    ).toBe(400);
    expect(
      (await post("/v2/pipeline", JSON.stringify({ baton: "bogus.baton", requests: [] }))).status,
    ).toBe(400);
  });

  it("serves v3 pipelines with single-use batons, get_autocommit and cursors", async () => {
    const post = async (path: string, body: unknown) =>
      fetch(url(path), { method: "POST", headers: auth, body: JSON.stringify(body) });
    const stmt = (sql: string) => ({ type: "execute", stmt: { sql, want_rows: true } });
    const first = await post("/v3/pipeline", {
      requests: [stmt("BEGIN"), { type: "get_autocommit" }],
    });
    const body = (await first.json()) as { baton: string; results: { response: unknown }[] };
    expect(body.results[1]?.response).toEqual({ type: "get_autocommit", is_autocommit: false });

    const cursor = await post("/v3/cursor", {
      baton: body.baton,
      batch: {
        steps: [
          { stmt: { sql: "SELECT 1 AS one UNION ALL SELECT 2" } },
          { stmt: { sql: "SELEC" } },
        ],
      },
    });
    const lines = (await cursor.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.type)).toEqual([undefined, "error"]);
    const next = lines[0]?.baton as string;
    const cursor2 = await post("/v3/cursor", {
      baton: next,
      batch: {
        steps: [
          { stmt: { sql: "SELECT 1 AS one UNION ALL SELECT 2" } },
          { condition: { type: "is_autocommit" }, stmt: { sql: "SELECT 3" } },
        ],
      },
    });
    const entries = (await cursor2.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.slice(1).map((e) => e.type)).toEqual(["step_begin", "row", "row", "step_end"]);
    expect(entries[2]?.row).toEqual([{ type: "integer", value: "1" }]);

    const reused = await post("/v3/pipeline", { baton: next, requests: [] });
    expect(reused.status).toBe(400);
    expect(await reused.text()).toContain("already been used");
    const closed = await post("/v3/pipeline", {
      baton: entries[0]?.baton,
      requests: [{ type: "close" }],
    });
    expect(((await closed.json()) as { baton: unknown }).baton).toBeNull();
    const v2Autocommit = await post("/v2/pipeline", { requests: [{ type: "get_autocommit" }] });
    expect(v2Autocommit.status).toBe(400);
  });
});

describe("libsql-http binding", () => {
  it("refuses non-loopback hosts", async () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "example.com"]) {
      await expect(
        startLibsqlHttpServer({ dbPath: join(tmpdir(), "never.db"), host }),
      ).rejects.toThrow(/loopback/);
    }
  });
});
