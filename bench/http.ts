/**
 * Request dispatch through the whole middleware stack (request id, logs, headers, routing, errors)
 * on the Node runtime over an embedded libSQL file: GET /healthz (no I/O), GET /readyz (two
 * queries) and an unknown route (problem+json). Ends with one JSON line of p50/p99 in ms.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app";
import { parseConfig } from "../src/config";
import { systemDeps } from "../src/deps";
import type { Logger } from "../src/lib/logger";
import { openNodeDatabase } from "../src/node/database";
import { applyMigrations } from "../src/node/migrate";
import { percentile } from "./lib/stats";

const N = 5_000;
const silent: Logger = { info() {}, warn() {}, error() {} };

const dir = mkdtempSync(join(tmpdir(), "strato-bench-"));
try {
  const config = parseConfig({ DATABASE_URL: `file:${dir}/b.db` }, "node");
  const db = openNodeDatabase(config.databaseUrl);
  await applyMigrations(db);
  const authzSchema = readFileSync(new URL("../permify/schema.perm", import.meta.url), "utf8");
  const app = createApp({ ...systemDeps(config, db, { authzSchema }), log: silent });

  const figures: Record<string, number> = {};
  for (const [label, path] of [
    ["healthz", "/healthz"],
    ["readyz", "/readyz"],
    ["not_found", "/api/v1/nope"],
  ] as const) {
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const started = performance.now();
      const res = await app.request(`http://localhost${path}`);
      await res.arrayBuffer();
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    figures[`${label}_p50_ms`] = percentile(samples, 50);
    figures[`${label}_p99_ms`] = percentile(samples, 99);
    console.log(
      `${path}: p50 ${figures[`${label}_p50_ms`]} ms, p99 ${figures[`${label}_p99_ms`]} ms (${N} requests)`,
    );
  }
  db.$client.close();
  console.log(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
