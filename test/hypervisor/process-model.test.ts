import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CloudHypervisorApi } from "../../agent/src/hypervisor/cloud-hypervisor/api";
import {
  CloudHypervisorDriver,
  type CloudHypervisorOptions,
} from "../../agent/src/hypervisor/cloud-hypervisor/driver";
import {
  CloudHypervisorApiError,
  VmmStartError,
  VmmUnavailableError,
} from "../../agent/src/hypervisor/cloud-hypervisor/errors";
import { SIM_BIN, simSandbox, until, virtualClock, vmSpec } from "./support";

/** Pids of live processes whose command line mentions `text` (to prove nothing was left over). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

describe("process model: crashes, restarts, faults", () => {
  const sandbox = simSandbox("ch-proc-");
  const drivers: CloudHypervisorDriver[] = [];
  const driver = (options: Partial<CloudHypervisorOptions> = {}) => {
    const d = new CloudHypervisorDriver({
      binary: SIM_BIN,
      runRoot: sandbox.runRoot,
      readyTimeoutMs: 15_000,
      ...options,
    });
    drivers.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of drivers) await d.close();
  });
  const spec = () => vmSpec(sandbox.dataDir);

  it("a SIGKILLed VMM is reported stopped with the reason; boot respawns it on the same socket", async () => {
    const d = driver();
    await d.create("killed", spec());
    const running = await d.boot("killed");
    expect(running.state).toBe("running");
    const pid = running.pid ?? 0;
    process.kill(pid, "SIGKILL");
    const stopped = await until(
      "stopped",
      () => d.info("killed"),
      (o) => o.state === "stopped",
    );
    expect(stopped.reason).toMatchObject({
      kind: "crashed",
      signal: "SIGKILL",
      lastEvent: "vm/booted",
    });
    expect(stopped.reason?.detail).toContain("killed by SIGKILL");
    // A new agent process only has the event log to go by.
    const fresh = await driver().info("killed");
    expect(fresh).toMatchObject({
      state: "stopped",
      reason: { kind: "crashed", lastEvent: "vm/booted" },
    });
    // The stale socket is replaced by the new VMM.
    expect(existsSync(join(sandbox.runRoot, "killed", "api.sock"))).toBe(true);
    const again = await d.boot("killed");
    expect(again.state).toBe("running");
    expect(again.pid).not.toBe(pid);
    await d.delete("killed");
    expect(processesMentioning(join(sandbox.runRoot, "killed"))).toEqual([]);
  });

  it("a guest panic before a crash is part of the stop reason", async () => {
    const d = driver({ env: { CH_SIM_PANIC_AFTER_MS: "30" } });
    await d.create("panic", spec());
    const { pid } = await d.boot("panic");
    await until(
      "panic event",
      async () => (await d.events("panic")).map((e) => `${e.source}/${e.event}`),
      (names) => names.includes("guest/panic"),
    );
    process.kill(pid ?? 0, "SIGKILL");
    const stopped = await until(
      "stopped",
      () => d.info("panic"),
      (o) => o.state === "stopped",
    );
    expect(stopped.reason?.kind).toBe("crashed");
    expect(stopped.reason?.detail).toContain("the guest reported a panic");
    await d.delete("panic");
  });

  it("a new driver instance re-adopts running VMMs and tails events from where it stopped", async () => {
    const first = driver();
    await first.create("adopt-a", spec());
    const a = await first.boot("adopt-a");
    await first.create("adopt-b", spec());
    await first.boot("adopt-b");
    const b = await first.pause("adopt-b");
    const seen = (await first.events("adopt-a")).map((e) => `${e.source}/${e.event}`);
    expect(seen).toEqual(expect.arrayContaining(["vmm/starting", "vm/booting", "vm/booted"]));
    await first.close(); // the agent goes away; VMMs keep running

    const second = driver();
    const adopted = await second.adopt();
    const byId = Object.fromEntries(adopted.map((o) => [o.vmId, o]));
    expect(byId["adopt-a"]).toMatchObject({ state: "running", pid: a.pid });
    expect(byId["adopt-b"]).toMatchObject({ state: "paused", pid: b.pid });
    expect(byId["adopt-a"]?.devices?.root).toMatch(/^0000:00:/);
    expect(byId["adopt-a"]?.config?.disks).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: "root", image_type: "Raw" })]),
    );
    await second.resume("adopt-b");
    await second.pause("adopt-a");
    // Only the events after the first agent's last read.
    const next = (await second.events("adopt-a")).map((e) => `${e.source}/${e.event}`);
    expect(next).toEqual(["vm/pausing", "vm/paused"]);
    await second.delete("adopt-a");
    await second.delete("adopt-b");
    expect(await second.list()).toEqual([]);
  });

  it("boot failure after Vm::new is cleaned up so the VM is not stuck in 'already created'", async () => {
    const d = driver({ env: { CH_SIM_BOOT_FAIL: "boot" } });
    await d.create("bootfail", spec());
    const error = await d.boot("bootfail").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudHypervisorApiError);
    expect((error as CloudHypervisorApiError).messages).toContain("The VM could not boot");
    const after = await d.info("bootfail");
    expect(after.state).toBe("created");
    expect(after.devices).toBeUndefined(); // the half-built VM object was dropped
    const api = new CloudHypervisorApi(join(sandbox.runRoot, "bootfail", "api.sock"));
    const retry = await api.call("PUT", "vm.boot");
    expect(retry.text).not.toContain("already created");
    await api.close();
    await d.delete("bootfail");
  });

  it("a VMM that exits at a call is reported crashed with its exit code", async () => {
    const d = driver({ env: { CH_SIM_EXIT_AT: "vm.pause", CH_SIM_EXIT_CODE: "7" } });
    await d.create("exitat", spec());
    await d.boot("exitat");
    await expect(d.pause("exitat")).rejects.toBeInstanceOf(VmmUnavailableError);
    const stopped = await until(
      "stopped",
      () => d.info("exitat"),
      (o) => o.state === "stopped",
    );
    expect(stopped.reason).toMatchObject({ kind: "crashed", exitCode: 7 });
    await d.delete("exitat");
  });

  it("guest power-off: Created with --no-shutdown, stopped (guest-shutdown) without", async () => {
    const env = { CH_SIM_POWEROFF_AFTER_MS: "150" };
    const kept = driver({ env });
    await kept.create("poweroff-kept", spec());
    await kept.boot("poweroff-kept");
    const created = await until(
      "created",
      () => kept.info("poweroff-kept"),
      (o) => o.state === "created",
    );
    expect(created.pid).toBeDefined();

    const exiting = driver({ env, noShutdown: false });
    await exiting.create("poweroff-exit", spec());
    await exiting.boot("poweroff-exit");
    const stopped = await until(
      "stopped",
      () => exiting.info("poweroff-exit"),
      (o) => o.state === "stopped",
    );
    expect(stopped.reason).toMatchObject({
      kind: "guest-shutdown",
      exitCode: 0,
      lastEvent: "vmm/shutdown",
    });
    // Boot brings it back in a new VMM from the saved config.
    expect((await exiting.boot("poweroff-exit")).state).toBe("running");
    await kept.delete("poweroff-kept");
    await exiting.delete("poweroff-exit");
  });

  it("graceful shutdown falls back to a forced one after the timeout (injected clock)", async () => {
    const env = { CH_SIM_IGNORE_POWER_BUTTON: "1" };
    await driver({ env }).create("stubborn", spec());
    await drivers.at(-1)?.boot("stubborn");
    const clock = virtualClock();
    const d = driver({ env, clock });
    const started = Date.now();
    const result = await d.shutdown("stubborn", { timeoutMs: 20_000 });
    expect(result).toMatchObject({ method: "forced", state: "created" });
    expect(clock.advanced()).toBeGreaterThanOrEqual(20_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    await d.delete("stubborn");
  });

  it("a VMM whose API is blocked (slow boot) is reported unknown, not stopped", async () => {
    const d = driver({
      env: { CH_SIM_BOOT_DELAY_MS: "1500" },
      timeouts: { shortMs: 200, normalMs: 2_000, longMs: 10_000 },
    });
    await d.create("slow", spec());
    const booting = d.boot("slow");
    await new Promise((r) => setTimeout(r, 300));
    expect((await d.info("slow")).state).toBe("unknown");
    expect((await booting).state).toBe("running");
    await d.delete("slow");
  });

  it("a failed create leaves no VMM and no run directory behind", async () => {
    const d = driver();
    const bad = vmSpec(sandbox.dataDir, {
      serialLog: join(sandbox.dataDir, "missing", "serial.log"),
    });
    const error = await d.create("badcreate", bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudHypervisorApiError);
    expect((error as CloudHypervisorApiError).status).toBe(500);
    expect(existsSync(join(sandbox.runRoot, "badcreate"))).toBe(false);
    expect(processesMentioning(join(sandbox.runRoot, "badcreate"))).toEqual([]);
    expect((await d.info("badcreate")).state).toBe("absent");
    // A missing binary is a start error, also cleaned up.
    const missing = driver({ binary: join(sandbox.dataDir, "no-such-binary") });
    await expect(missing.create("nobinary", spec())).rejects.toBeInstanceOf(VmmStartError);
    expect(existsSync(join(sandbox.runRoot, "nobinary"))).toBe(false);
  });

  it("counters survive the 2^53 boundary exactly", async () => {
    const d = driver({ env: { CH_SIM_COUNTER_START: "18446744073709551000" } });
    await d.create("big", spec());
    await d.boot("big");
    const first = await d.counters("big");
    expect(first.root?.read_bytes).toBe(18446744073709551000n);
    expect(first.root?.write_latency_max).toBe(2n ** 64n - 1n);
    const second = await d.counters("big");
    // u64 wrap-around: (start + 65536) mod 2^64.
    expect(second.root?.read_bytes).toBe((18446744073709551000n + 65536n) % 2n ** 64n);
    expect(second.nic0?.rx_frames).toBe(10n);
    await d.delete("big");
  });
});
