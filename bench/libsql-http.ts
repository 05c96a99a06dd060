/**
 * Latency of the local libSQL HTTP server through the Worker's client (`@libsql/client/web`):
 * N sequential single-row inserts, then N point selects. `npx tsx bench/libsql-http.ts`
 * The last line of output is one JSON object with the percentiles.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client/web";
import { startLibsqlHttpServer } from "../src/node/libsql-http/server";
import { percentile } from "./lib/stats";

const N = 2_000;

async function timeEach(count: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await op(i);
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}

const dir = mkdtempSync(join(tmpdir(), "strato-libsql-bench-"));
const server = await startLibsqlHttpServer({ dbPath: join(dir, "bench.db") });
const client = createClient({ url: server.url });
try {
  await client.execute(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB, created_at INTEGER)",
  );
  const wallStart = performance.now();
  const inserts = await timeEach(N, (i) =>
    client.execute({
      sql: "INSERT INTO items (name, payload, created_at) VALUES (?, ?, ?)",
      args: [`item-${i}`, new Uint8Array(32).fill(i % 256), Date.now()],
    }),
  );
  const selects = await timeEach(N, (i) =>
    client.execute({ sql: "SELECT * FROM items WHERE id = ?", args: [((i * 7919) % N) + 1] }),
  );
  const wallMs = performance.now() - wallStart;
  const summary = {
    insert_p50_ms: percentile(inserts, 50),
    insert_p99_ms: percentile(inserts, 99),
    select_p50_ms: percentile(selects, 50),
    select_p99_ms: percentile(selects, 99),
  };
  console.log(`libsql-http bench: ${N} inserts + ${N} point selects in ${wallMs.toFixed(0)} ms`);
  console.log(`  insert p50 ${summary.insert_p50_ms} ms, p99 ${summary.insert_p99_ms} ms`);
  console.log(`  select p50 ${summary.select_p50_ms} ms, p99 ${summary.select_p99_ms} ms`);
  console.log(JSON.stringify(summary));
} finally {
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
