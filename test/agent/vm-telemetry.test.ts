import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceCounters } from "../../agent/src/hypervisor/hypervisor";
import type { AgentLog } from "../../agent/src/log";
import { consoleLogsIn, type InventoryEntry } from "../../agent/src/ops";
import { reportEntry } from "../../agent/src/vm-host";
import {
  CONSOLE_BUDGET_BYTES,
  CONSOLE_TAIL_BYTES,
  consoleText,
  counterTotals,
  TelemetryReader,
  withTelemetry,
} from "../../agent/src/vm-telemetry";
import { inventoryEntries } from "../../src/domain/vms/inventory";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function collectingLog(): AgentLog & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => {}, error: () => {}, warn: (msg) => warnings.push(msg) };
}

const COUNTERS: DeviceCounters = {
  root: {
    read_bytes: 2n ** 62n,
    write_bytes: 10n,
    read_ops: 3n,
    read_latency_avg: 97n,
  },
  seed: { read_bytes: 2n ** 62n, write_bytes: 5n, read_ops: 1n, read_latency_avg: 40n },
  nic0: { rx_bytes: 1500n, tx_bytes: 700n, rx_frames: 2n, tx_frames: 1n },
};

async function setup(counters: (vmId: string) => Promise<DeviceCounters>, maxBytes = 1024 * 1024) {
  const dir = await mkdtemp(join(tmpdir(), "strato-telemetry-"));
  dirs.push(dir);
  const consoleLogs = consoleLogsIn(dir, { maxBytes, keep: 1 });
  const log = collectingLog();
  const reader = new TelemetryReader({ hypervisor: { counters }, consoleLogs, log });
  return { dir, consoleLogs, log, reader };
}

const entry = (vmId: string, state: InventoryEntry["state"]): InventoryEntry => ({
  vmId,
  hostVmId: vmId,
  state,
  managed: true,
});

describe("status report telemetry", () => {
  it("sums cumulative counters over devices as decimal strings, leaving latencies out", () => {
    expect(counterTotals(COUNTERS)).toEqual({
      read_bytes: (2n ** 63n).toString(),
      read_ops: "4",
      rx_bytes: "1500",
      rx_frames: "2",
      tx_bytes: "700",
      tx_frames: "1",
      write_bytes: "15",
    });
  });

  it("decodes console bytes leniently and strips escapes and control characters", () => {
    const bytes = Buffer.concat([
      Buffer.from([0x82, 0xac]), // the end of a "€" cut off by the tail
      Buffer.from("ok \x1b[1;31mFAIL\x1b[0m\r\n\ttab\x00\x07 caf\u00e9 "),
      Buffer.from([0xff]),
    ]);
    expect(consoleText(bytes, true)).toBe("ok FAIL\n\ttab café \ufffd");
  });

  it("each status report keeps a VM's live console log within its cap (console_log_mb)", async () => {
    const { dir, reader } = await setup(async () => COUNTERS, 4096);
    const path = join(dir, "vm_a.serial.log");
    await writeFile(path, `${"x".repeat(5000)}\nboot done\n`);
    const { console_tail: tail } = await reader.read("vm_a");
    expect(tail).toContain("boot done");
    // Rotated out: the live file is empty, the output is in the rotated file.
    expect((await stat(path)).size).toBe(0);
    expect((await readFile(`${path}.1`, "utf8")).endsWith("boot done\n")).toBe(true);
  });

  it("adds the console tail and counters to running and paused VMs only", async () => {
    const asked: string[] = [];
    const { dir, reader } = await setup(async (vmId) => {
      asked.push(vmId);
      return COUNTERS;
    });
    const long = `${"x".repeat(CONSOLE_TAIL_BYTES)}\nlast line <script>\n`;
    await writeFile(join(dir, "vm_a.serial.log"), long);
    const report = await withTelemetry(
      [entry("vm_a", "running"), entry("vm_b", "paused"), entry("vm_c", "stopped")],
      reader,
      reportEntry,
    );
    const [a, b, c] = report;
    expect(a?.console_tail).toHaveLength(CONSOLE_TAIL_BYTES);
    expect(String(a?.console_tail).endsWith("\nlast line <script>\n")).toBe(true);
    expect(a?.counters).toMatchObject({ rx_bytes: "1500", write_bytes: "15" });
    // No console file yet: an empty tail (the VM printed nothing).
    expect(b).toMatchObject({ id: "vm_b", state: "paused", console_tail: "" });
    expect(c).toEqual({ id: "vm_c", state: "stopped", managed: true });
    expect(asked).toEqual(["vm_a", "vm_b"]);
    // What the control plane reads back from it.
    expect(inventoryEntries(report)[0]?.telemetry?.counters?.read_bytes).toBe(
      (2n ** 63n).toString(),
    );
  });

  it("caps the console bytes of one report, so many VMs stay under the API's body limit", async () => {
    const { dir, reader } = await setup(async () => ({}));
    const count = CONSOLE_BUDGET_BYTES / CONSOLE_TAIL_BYTES + 2;
    const entries: InventoryEntry[] = [];
    for (let i = 0; i < count; i++) {
      const vmId = `vm_${String(i).padStart(3, "0")}`;
      await writeFile(join(dir, `${vmId}.serial.log`), "y".repeat(CONSOLE_TAIL_BYTES));
      entries.push(entry(vmId, "running"));
    }
    const report = await withTelemetry(entries, reader, reportEntry);
    const sent = report.map((r) => String(r.console_tail ?? "").length);
    expect(sent.reduce((a, b) => a + b, 0)).toBe(CONSOLE_BUDGET_BYTES);
    expect(report.at(-1)).not.toHaveProperty("console_tail");
    expect(report.at(-1)).toHaveProperty("counters");
  });

  it("leaves out what it cannot read, warning once per VM until it works again", async () => {
    let failing = true;
    const { log, reader } = await setup(async () => {
      if (failing) throw new Error("VMM API timed out");
      return COUNTERS;
    });
    for (let i = 0; i < 3; i++) {
      const [report] = await withTelemetry([entry("vm_a", "running")], reader, reportEntry);
      expect(report).toMatchObject({ id: "vm_a", console_tail: "" });
      expect(report).not.toHaveProperty("counters");
    }
    expect(log.warnings).toEqual(["status report: cannot read the VM's counters"]);
    failing = false;
    const [ok] = await withTelemetry([entry("vm_a", "running")], reader, reportEntry);
    expect(ok).toHaveProperty("counters");
    failing = true;
    await withTelemetry([entry("vm_a", "running")], reader, reportEntry);
    expect(log.warnings).toHaveLength(2);
  });
});
