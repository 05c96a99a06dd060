/**
 * Embedded authorization engine over the libSQL store (a temp `file:` database):
 * `check` p50/p99 at 1k and 100k tuples, and `lookupEntity` returning 10k VMs.
 * `npx tsx bench/authz.ts` or `npm run bench -- authz`. The last line is one JSON object.
 * Targets (issue): check p99 <= 0.5 ms at 100k tuples; lookup of 10k <= 20 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Authorizer, Tuple } from "../src/authz/authorizer";
import { EmbeddedAuthorizer } from "../src/authz/embedded/engine";
import { LibsqlTupleStore } from "../src/authz/embedded/libsql-store";
import { openNodeDatabase } from "../src/node/database";
import { applyMigrations } from "../src/node/migrate";
import { percentile } from "./lib/stats";

const SCHEMA = `
entity user {}
entity project {
  relation admin @user
  relation member @user
}
entity vm {
  relation project @project
  relation owner @user
  permission view = owner or project.member or project.admin
  permission manage = owner or project.admin
}`;

const CHECKS = 3_000;
const BIG_PROJECT_VMS = 10_000;

/** ~`total` tuples: 10 members per project, and per VM an owner and a project. Project p0 is big. */
function dataset(total: number): { tuples: Tuple[]; users: number; vms: number } {
  const projects = Math.max(2, Math.floor(total / 100));
  const users = Math.max(10, Math.floor(total / 50));
  const tuples: Tuple[] = [];
  for (let p = 0; p < projects; p++) {
    for (let m = 0; m < 10; m++) {
      const user = `u${(p * 7 + m * 13) % users}`;
      tuples.push(rel("project", `p${p}`, m === 0 ? "admin" : "member", user));
    }
  }
  const vms = Math.floor((total - tuples.length) / 2);
  for (let v = 0; v < vms; v++) {
    const project = total >= 50_000 && v < BIG_PROJECT_VMS ? "p0" : `p${1 + (v % (projects - 1))}`;
    tuples.push({
      entity: { type: "vm", id: `v${v}` },
      relation: "project",
      subject: { type: "project", id: project },
    });
    tuples.push(rel("vm", `v${v}`, "owner", `u${(v * 31) % users}`));
  }
  return { tuples, users, vms };
}

function rel(type: string, id: string, relation: string, user: string): Tuple {
  return { entity: { type, id }, relation, subject: { type: "user", id: user } };
}

async function load(dir: string, name: string, total: number) {
  const db = openNodeDatabase(`file:${join(dir, `${name}.db`)}`);
  await applyMigrations(db);
  const authz = new EmbeddedAuthorizer(new LibsqlTupleStore(db));
  await authz.writeSchema(SCHEMA);
  const data = dataset(total);
  const started = performance.now();
  await authz.writeRelationships(data.tuples);
  console.log(
    `${name}: wrote ${data.tuples.length} tuples in ${(performance.now() - started).toFixed(0)} ms`,
  );
  return { authz, db, ...data };
}

async function timeChecks(authz: Authorizer, users: number, vms: number) {
  let rng = 42;
  const next = (n: number) => {
    rng = (rng * 1_103_515_245 + 12_345) % 2_147_483_648;
    return rng % n;
  };
  const request = () => ({
    entity: { type: "vm", id: `v${next(vms)}` },
    permission: "view",
    subject: { type: "user", id: `u${next(users)}` },
  });
  for (let i = 0; i < 1_000; i++) await authz.check(request()); // warm-up (JIT, page cache)
  const samples: number[] = [];
  let allowed = 0;
  for (let i = 0; i < CHECKS; i++) {
    const req = request();
    const t = performance.now();
    if ((await authz.check(req)).allowed) allowed++;
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), allowed };
}

export async function run(): Promise<Record<string, number | boolean>> {
  const dir = mkdtempSync(join(tmpdir(), "strato-authz-bench-"));
  try {
    const small = await load(dir, "1k", 1_000);
    const c1 = await timeChecks(small.authz, small.users, small.vms);
    console.log(`  check x${CHECKS}: p50 ${c1.p50} ms, p99 ${c1.p99} ms (${c1.allowed} allowed)`);
    small.db.$client.close();

    const big = await load(dir, "100k", 100_000);
    const c2 = await timeChecks(big.authz, big.users, big.vms);
    console.log(`  check x${CHECKS}: p50 ${c2.p50} ms, p99 ${c2.p99} ms (${c2.allowed} allowed)`);
    // A member of p0 sees its 10k VMs (plus any VM they own); best of 5 after one warm-up.
    const member = { type: "user", id: "u13" };
    let ids: string[] = [];
    const lookups: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      ids = await big.authz.lookupEntity({ entityType: "vm", permission: "view", subject: member });
      if (i > 0) lookups.push(performance.now() - t);
    }
    const lookupMs = Math.round(Math.min(...lookups) * 1000) / 1000;
    console.log(`  lookupEntity vm#view: ${ids.length} ids in ${lookupMs} ms (best of 5)`);
    big.db.$client.close();

    const summary = {
      check_1k_p50_ms: c1.p50,
      check_1k_p99_ms: c1.p99,
      check_100k_p50_ms: c2.p50,
      check_100k_p99_ms: c2.p99,
      lookup_10k_ms: lookupMs,
      lookup_10k_count: ids.length,
      target_check_p99_met: c2.p99 <= 0.5,
      target_lookup_met: lookupMs <= 20,
    };
    console.log(JSON.stringify(summary));
    return summary;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run();
