/**
 * Listing VMs as a project grows: API and HTML list latency at 1k and 20k VMs (100k with --full).
 * The VM rows are seeded straight into the `vms` table of one project (with their `vm#project`
 * relationships, one host and one image). At each size: p50/p99 of
 * GET /api/v1/projects/{id}/vms?limit=50 (first page, and page 10 reached through `next` cursors)
 * with an API token, and of the VM list page /projects/{id}/vms (HTML) with a session cookie;
 * beside a bare Hono route (`GET /bare` → "ok") served from this process too. All over loopback
 * HTTP. A size whose requests fail is reported with its HTTP status instead of times.
 * Flags: --full (adds 100k), --requests N (100 per figure).
 * Target (issue): flat cost, API p99 at the largest size <= 1.5x its p99 at 1k.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { authzTuples, hosts, images, vms } from "../src/db/schema";
import { startSession } from "../src/domain/identity/sessions";
import { benchArgs, intFlag } from "./lib/args";
import { type ControlPlane, seedTenant, startControlPlane } from "./lib/control-plane";
import { summarize } from "./lib/stats";

const flags = benchArgs("list-vms", {
  full: { type: "boolean" },
  requests: { type: "string" },
});
const SIZES = flags.full ? [1_000, 20_000, 100_000] : [1_000, 20_000];
const REQUESTS = intFlag(flags.requests, 100, "requests");
const WARM_UP = 10;
const DEEP_PAGE = 10;
/** Rows per INSERT (vms has 20 columns; SQLite allows 32766 variables) and per transaction. */
const ROWS_PER_INSERT = 500;
const INSERTS_PER_BATCH = 10;

const label = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));

/**
 * A GET; one retry when the connection was reset: seeding blocks this process's event loop (the
 * embedded database is synchronous), long enough for a kept-alive connection to time out.
 */
async function get(url: string, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, { headers });
  } catch {
    return fetch(url, { headers });
  }
}

/** A request that did not answer 200 (the figure is reported as failed, not as a time). */
class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Times `REQUESTS` sequential GETs (after a warm-up); each must answer 200. */
async function time(url: string, headers: Record<string, string> = {}) {
  const samples: number[] = [];
  for (let i = 0; i < WARM_UP + REQUESTS; i++) {
    const started = performance.now();
    const res = await get(url, headers);
    const body = await res.text();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new StatusError(res.status, `${url}: ${body.slice(0, 300)}`);
    if (i >= WARM_UP) samples.push(ms);
  }
  return summarize(samples);
}

/** A bare Hono app on its own loopback port: the floor of a request from this process. */
async function startBare() {
  const app = new Hono();
  app.get("/bare", (c) => c.text("ok"));
  let listening: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) =>
    listening(info.port),
  );
  return {
    url: `http://127.0.0.1:${await port}/bare`,
    close: () =>
      new Promise<void>((done) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Adds VMs `from`…`to - 1` of the project (newest last), with their relationships. */
async function seedVms(
  cp: ControlPlane,
  scope: { orgId: string; projectId: string; hostId: string; imageId: string },
  from: number,
  to: number,
) {
  const { db, ids } = cp.deps;
  const base = Date.now() - 10 * 86_400_000;
  for (let start = from; start < to; start += ROWS_PER_INSERT * INSERTS_PER_BATCH) {
    const statements = [];
    for (let k = 0; k < INSERTS_PER_BATCH; k++) {
      const lo = start + k * ROWS_PER_INSERT;
      const hi = Math.min(to, lo + ROWS_PER_INSERT);
      if (lo >= hi) break;
      const rows = Array.from({ length: hi - lo }, (_, j) => {
        const i = lo + j;
        return {
          id: ids.next("vm"),
          orgId: scope.orgId,
          projectId: scope.projectId,
          name: `vm-${i}`,
          imageId: scope.imageId,
          vcpus: 1 + (i % 4),
          memoryMb: 512 * (1 + (i % 8)),
          diskGb: 10,
          sshKeys: [],
          labels: { tier: i % 2 === 0 ? "web" : "db" },
          hostId: scope.hostId,
          desiredState: "running" as const,
          observedState: i % 10 === 0 ? ("stopped" as const) : ("running" as const),
          generation: 1,
          createdAt: base + i,
          updatedAt: base + i,
        };
      });
      statements.push(db.insert(vms).values(rows));
      statements.push(
        db.insert(authzTuples).values(
          rows.map((vm) => ({
            entityType: "vm",
            entityId: vm.id,
            relation: "project",
            subjectType: "project",
            subjectId: scope.projectId,
            createdAt: vm.createdAt,
          })),
        ),
      );
    }
    const [first, ...rest] = statements;
    if (first) await db.batch([first, ...rest]);
  }
}

const dir = mkdtempSync(join(tmpdir(), "strato-bench-list-"));
let cp: ControlPlane | undefined;
const bare = await startBare();
try {
  cp = await startControlPlane(dir);
  const { deps } = cp;
  const tenant = await seedTenant(deps);
  const { token } = await startSession(deps, tenant.userId, {
    userAgent: "bench",
    ip: "127.0.0.1",
  });
  // GET pages need only the cookie (Origin and the CSRF token are for mutations).
  const cookie = { cookie: `strato_session=${token}` };
  const now = deps.clock.now();
  const hostId = deps.ids.next("host");
  await deps.db.insert(hosts).values({
    id: hostId,
    orgId: tenant.orgId,
    name: "bench-host",
    machineId: "bench-host-0000",
    scope: "bench",
    state: "approved",
    publicJwk: { kty: "OKP", crv: "Ed25519", x: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
    keyThumbprint: "bench-thumbprint",
    facts: { cpus: 64, memory_bytes: 2 ** 40, disk_bytes: 2 ** 44 },
    enrollmentTokenId: "bench",
    createdAt: now,
    updatedAt: now,
  });
  const imageId = deps.ids.next("image");
  await deps.db.insert(images).values({
    id: imageId,
    orgId: tenant.orgId,
    name: "debian",
    url: "http://127.0.0.1/debian.qcow2",
    sha256: "0".repeat(64),
    format: "qcow2",
    minDiskGb: 1,
    createdAt: now,
  });
  const scope = { orgId: tenant.orgId, projectId: tenant.projectId, hostId, imageId };
  const listPath = `/api/v1/projects/${tenant.projectId}/vms?limit=50`;

  const bareFigures = await time(bare.url);
  console.log(`list-vms: bare Hono route: p50 ${bareFigures.p50} ms, p99 ${bareFigures.p99} ms`);
  const auth = { authorization: `Bearer ${tenant.secret}` };
  const figures: Record<string, number> = {};
  let seeded = 0;
  for (const size of SIZES) {
    const seedStart = performance.now();
    await seedVms(cp, scope, seeded, size);
    seeded = size;
    const seedS = ((performance.now() - seedStart) / 1000).toFixed(1);
    const n = label(size);
    console.log(`  ${n} VMs (seeded in ${seedS} s), ${REQUESTS} requests each:`);
    try {
      // Page DEEP_PAGE through the `next` cursors.
      let cursor: string | null = null;
      for (let page = 1; page < DEEP_PAGE; page++) {
        const after: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        const res = await get(`${cp.base}${listPath}${after}`, auth);
        if (res.status !== 200) throw new StatusError(res.status, (await res.text()).slice(0, 300));
        const body = (await res.json()) as { items: unknown[]; next: string | null };
        if (body.items.length !== 50 || !body.next) throw new Error(`page ${page} is short`);
        cursor = body.next;
      }
      const first = await time(`${cp.base}${listPath}`, auth);
      const deep = await time(
        `${cp.base}${listPath}&cursor=${encodeURIComponent(cursor ?? "")}`,
        auth,
      );
      const html = await time(`${cp.base}/projects/${tenant.projectId}/vms`, cookie);
      console.log(`    API first page:    p50 ${first.p50} ms, p99 ${first.p99} ms`);
      console.log(`    API page ${DEEP_PAGE}:       p50 ${deep.p50} ms, p99 ${deep.p99} ms`);
      console.log(`    HTML list page:    p50 ${html.p50} ms, p99 ${html.p99} ms`);
      figures[`api_p50_ms_${n}`] = first.p50;
      figures[`api_p99_ms_${n}`] = first.p99;
      figures[`api_deep_p99_ms_${n}`] = deep.p99;
      figures[`html_p99_ms_${n}`] = html.p99;
    } catch (error) {
      if (!(error instanceof StatusError)) throw error;
      console.log(`    FAILED: HTTP ${error.status} (${error.message.slice(0, 200)})`);
      figures[`failed_status_${n}`] = error.status;
    }
  }
  const small = label(SIZES[0] ?? 0);
  const large = label(SIZES[SIZES.length - 1] ?? 0);
  /** Largest size over 1k; null when either size failed. */
  const ratio = (key: string) => {
    const [a, b] = [figures[`${key}_${small}`], figures[`${key}_${large}`]];
    return a === undefined || b === undefined ? null : Math.round((b / a) * 100) / 100;
  };
  const summary = {
    ...figures,
    ratio: ratio("api_p99_ms"),
    html_ratio: ratio("html_p99_ms"),
    bare_p50_ms: bareFigures.p50,
    bare_p99_ms: bareFigures.p99,
  };
  console.log(
    `  API p99 ${large} / ${small}: ${summary.ratio ?? "n/a"}x (target <= 1.5x: ` +
      `${summary.ratio !== null && summary.ratio <= 1.5 ? "met" : "not met"}); ` +
      `HTML ${summary.html_ratio ?? "n/a"}x`,
  );
  if (cp.problems() > 0) console.log(`  control plane logged ${cp.problems()} warnings/errors`);
  console.log(JSON.stringify(summary));
} finally {
  await bare.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
}
