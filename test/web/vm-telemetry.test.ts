import { describe, expect, it } from "vitest";
import { applyInventory, inventoryEntries } from "../../src/domain/vms/inventory";
import { formatRate } from "../../src/web/vms/telemetry";
import { hostReports, vmFleet } from "../support/fleet";
import { get, html } from "../support/pages";
import { okJson } from "../tenancy/fixtures";

async function runningVm() {
  const { h, t, hostId, imageId } = await vmFleet();
  const { vm } = await okJson<{ vm: { id: string } }>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-1", imageId, vcpus: 1, memoryMb: 1024, diskGb: 5 },
    }),
    202,
  );
  await hostReports(h, vm.id);
  /** The host's status report, as POST /api/v1/agent/status applies it. */
  const report = (extra: Record<string, unknown>) =>
    applyInventory(h.deps, hostId, inventoryEntries([{ id: vm.id, state: "running", ...extra }]));
  return { h, t, vmId: vm.id, report };
}

describe("VM detail page: console and activity", () => {
  it("shows empty states before the host reported anything", async () => {
    const { t, vmId } = await runningVm();
    const page = await html(await get(t.member, `/vms/${vmId}`));
    expect(page).toContain('id="vm-console"');
    expect(page).toContain("No console output reported yet");
    expect(page).toContain('id="vm-activity"');
    expect(page).toContain("No data yet");
    expect(page).not.toContain("<svg");
  });

  it("shows the console tail HTML-escaped with its time, and network and disk sparklines", async () => {
    const { h, t, vmId, report } = await runningVm();
    const counters = (net: number, disk: number) => ({
      rx_bytes: String(net),
      tx_bytes: "0",
      read_bytes: String(disk),
      write_bytes: "0",
    });
    await report({ counters: counters(0, 0) });
    h.clock.advance(60_000);
    await report({ counters: counters(60_000, 72_000_000) });
    h.clock.advance(60_000);
    await report({
      console_tail: 'login: <script>alert("x")</script> & done',
      counters: counters(120_000, 144_000_000),
    });
    const page = await html(await get(t.member, `/vms/${vmId}`));
    expect(page).toContain("login: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; done");
    expect(page).not.toContain('<script>alert("x")');
    expect(page).toContain("Taken at 2026-01-01 00:02 UTC");
    expect(page).toMatch(/data-chart="Network"[\s\S]*?1\.0 kB\/s[\s\S]*?<polyline/);
    expect(page).toMatch(/data-chart="Disk"[\s\S]*?1\.2 MB\/s[\s\S]*?<polyline/);
    expect(page).toContain('viewBox="0 0 120 32"');
    // Strict CSP: nothing inline.
    expect(page).not.toMatch(/\sstyle=/);
  });

  it("hides the console from viewers (no `console` permission) but shows them the activity", async () => {
    const { t, vmId, report } = await runningVm();
    await report({ console_tail: "root password: hunter2" });
    const page = await html(await get(t.viewer, `/vms/${vmId}`));
    expect(page).not.toContain('id="vm-console"');
    expect(page).not.toContain("hunter2");
    expect(page).toContain('id="vm-activity"');
  });

  it("formats rates in decimal units", () => {
    expect([0, 999, 1000, 1250, 12_500, 1_200_000, 3e9].map(formatRate)).toEqual([
      "0 B/s",
      "999 B/s",
      "1.0 kB/s",
      "1.3 kB/s",
      "13 kB/s",
      "1.2 MB/s",
      "3.0 GB/s",
    ]);
  });
});
