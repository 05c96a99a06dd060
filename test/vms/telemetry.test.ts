import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hosts, vms, vmTelemetrySamples, workItems } from "../../src/db/schema";
import type { ServiceContext } from "../../src/domain/context";
import { decideHost } from "../../src/domain/hosts/transition";
import { applyVmResult } from "../../src/domain/vms/apply-result";
import { vmTelemetry } from "../../src/domain/vms/telemetry";
import { accessToken, call, enrollHost, mintToken, system } from "../agent/support";
import type { TestUser } from "../support/actors";
import { approvedHost, hostReports } from "../support/fleet";
import { createHarness, type Harness } from "../support/harness";
import { expectProblem, okJson, type Team, team } from "../tenancy/fixtures";

type Entry = Record<string, unknown>;

/** A team, an enrolled host of its organization reporting through the agent API, and a VM on it. */
async function vmOnReportingHost() {
  const h = await createHarness();
  const t = await team(h);
  const { res, key } = await enrollHost(h, await mintToken(h, t.org.id));
  const { host_id: hostId } = await okJson<{ host_id: string }>(res, 201);
  await decideHost(system(h), hostId, "approve");
  /** POST /api/v1/agent/status as the host (a fresh token: tests move the clock by hours). */
  const report = async (inventory: Entry[]) =>
    call(h, "/status", {
      token: await accessToken(h, key, hostId),
      body: { health: "healthy", clock_offset_ms: 0, inventory, capacity: { cpus: 16 } },
    });
  expect((await report([])).status).toBe(200);
  const vmId = await createVm(h, t);
  return { h, t, hostId, vmId, report };
}

async function createVm(h: Harness, t: Team): Promise<string> {
  const image = await okJson<{ id: string }>(
    await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
      method: "POST",
      json: {
        name: "img",
        url: "https://images.example/i.raw",
        sha256: "b".repeat(64),
        format: "raw",
      },
    }),
    201,
  );
  const created = await okJson<{ vm: { id: string } }>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "db-1", imageId: image.id, vcpus: 1, memoryMb: 1024, diskGb: 5 },
    }),
    202,
  );
  await hostReports(h, created.vm.id);
  return created.vm.id;
}

const running = (vmId: string, extra: Entry): Entry => ({ id: vmId, state: "running", ...extra });

const bytes = (net: bigint, disk: bigint) => ({
  rx_bytes: String(net),
  tx_bytes: "0",
  read_bytes: String(disk / 2n),
  write_bytes: String(disk - disk / 2n),
  rx_frames: "7",
});

const asUser = (h: Harness, user: TestUser): ServiceContext => ({
  deps: h.deps,
  actor: { kind: "user", userId: user.user.id, sessionId: null },
  requestId: "req_test",
});

describe("VM telemetry from status reports", () => {
  it("stores the console tail and serves it to members over REST, cleaned of escapes", async () => {
    const { h, t, hostId, vmId, report } = await vmOnReportingHost();
    const empty = await okJson(await t.member.request(`/api/v1/vms/${vmId}/console`));
    expect(empty).toEqual({ at: null, text: "" });

    const at = h.clock.now();
    const tail = "Booting…\n\x1b[0;32m[  OK  ]\x1b[0m Started sshd.\r\nlogin: ";
    expect((await report([running(vmId, { console_tail: tail })])).status).toBe(200);
    const body = await okJson(await t.member.request(`/api/v1/vms/${vmId}/console`));
    expect(body).toEqual({ at, text: "Booting…\n[  OK  ] Started sshd.\nlogin: " });

    // The host's stored status stays small: telemetry lives in its own table.
    const [host] = await h.deps.db.select().from(hosts).where(eq(hosts.id, hostId));
    expect(JSON.stringify(host?.status)).not.toContain("console_tail");
  });

  it("computes network and disk rates with BigInt deltas, a counter reset starting a new segment", async () => {
    const { h, t, vmId, report } = await vmOnReportingHost();
    const big = 2n ** 60n; // beyond 2^53: must not lose precision
    const reports: [bigint, bigint][] = [
      [big, 1_000_000n],
      [big + 6_000_000n, 1_600_000n], // +100 kB/s network, +10 kB/s disk over 60 s
      [big + 12_000_000n, 2_200_000n],
      [500n, 100n], // the VM rebooted: counters restart
      [1_100n, 700n], // +10 B/s each
    ];
    for (const [i, [net, disk]] of reports.entries()) {
      if (i > 0) h.clock.advance(60_000);
      expect((await report([running(vmId, { counters: bytes(net, disk) })])).status).toBe(200);
    }
    const telemetry = await vmTelemetry(asUser(h, t.member), vmId);
    expect(telemetry.console).toBeNull();
    const rates = (s: typeof telemetry.network) =>
      s.segments.map((seg) => seg.map((p) => p.perSecond));
    expect(rates(telemetry.network)).toEqual([[100_000, 100_000], [10]]);
    expect(rates(telemetry.disk)).toEqual([[10_000, 10_000], [10]]);
    expect(telemetry.network.latest).toEqual({ at: h.clock.now(), perSecond: 10 });
  });

  it("console needs `console` permission: viewers get 403, outsiders 404", async () => {
    const { t, vmId, report } = await vmOnReportingHost();
    await report([running(vmId, { console_tail: "secret boot output" })]);
    // permify/schema.perm: vm.view = project.view (org viewers too), vm.console = project.is_member.
    await expectProblem(await t.viewer.request(`/api/v1/vms/${vmId}/console`), 403, "forbidden");
    await expectProblem(await t.outsider.request(`/api/v1/vms/${vmId}/console`), 404, "not_found");
    await expectProblem(await t.member.request("/api/v1/vms/vm_nope/console"), 404, "not_found");
    const admin = await okJson<{ text: string }>(
      await t.admin.request(`/api/v1/vms/${vmId}/console`),
    );
    expect(admin.text).toBe("secret boot output");
  });

  it("ignores bad telemetry field by field without failing the report, and other hosts' VMs", async () => {
    const { h, t, vmId, report } = await vmOnReportingHost();
    const res = await report([
      running(vmId, { console_tail: "still here", counters: { rx_bytes: "abc" } }),
      running("vm_stranger", { console_tail: "not mine", counters: { rx_bytes: "1" } }),
    ]);
    expect(res.status).toBe(200);
    const rows = await h.deps.db.select().from(vmTelemetrySamples);
    expect(rows).toEqual([
      expect.objectContaining({ vmId, consoleTail: "still here", counters: null }),
    ]);

    for (const bad of [
      { console_tail: "x".repeat(8193) },
      { console_tail: 42, counters: { rx_bytes: "1".repeat(21) } },
      { counters: { rx_bytes: -1 } },
      { counters: ["1"] },
    ]) {
      expect((await report([running(vmId, bad)])).status).toBe(200);
    }
    expect(await h.deps.db.select().from(vmTelemetrySamples)).toHaveLength(1);
    // The VM's state is still reconciled from the same report.
    expect(
      (await report([{ id: vmId, state: "stopped", reason: "guest powered off" }])).status,
    ).toBe(200);
    const vm = await okJson<{ observedState: string }>(
      await t.member.request(`/api/v1/vms/${vmId}`),
    );
    expect(vm.observedState).toBe("stopped");
    // A VM placed on another host gets no samples from this one.
    const other = await approvedHost(h, t.org.id);
    await h.deps.db.update(vms).set({ hostId: other }).where(eq(vms.id, vmId));
    expect((await report([running(vmId, { console_tail: "spoofed" })])).status).toBe(200);
    expect(await h.deps.db.select().from(vmTelemetrySamples)).toHaveLength(1);
  });

  it("keeps an hour of samples per VM", async () => {
    const { h, vmId, report } = await vmOnReportingHost();
    await report([running(vmId, { counters: bytes(1n, 1n) })]);
    h.clock.advance(30 * 60_000);
    await report([running(vmId, { counters: bytes(2n, 2n) })]);
    h.clock.advance(31 * 60_000);
    await report([running(vmId, { counters: bytes(3n, 3n) })]);
    const ats = (await h.deps.db.select().from(vmTelemetrySamples)).map((r) => r.at);
    expect(ats).toEqual([h.clock.now() - 31 * 60_000, h.clock.now()]);
  });

  it("removes a VM's samples with the VM", async () => {
    const { h, t, vmId, report } = await vmOnReportingHost();
    await report([running(vmId, { console_tail: "bye" })]);
    await okJson(await t.member.request(`/api/v1/vms/${vmId}`, { method: "DELETE" }), 202);
    const items = await h.deps.db.select().from(workItems).where(eq(workItems.resourceId, vmId));
    const item = items.sort((a, b) => b.seq - a.seq)[0];
    if (!item) throw new Error("no delete item");
    await applyVmResult(h.deps, item, {
      lease_epoch: 1,
      attempt: 1,
      outcome: "succeeded",
      observed: { state: "deleted" },
    });
    expect(await h.deps.db.select().from(vmTelemetrySamples)).toEqual([]);
  });
});
