import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudHypervisorApi } from "../../agent/src/hypervisor/cloud-hypervisor/api";
import { CloudHypervisorDriver } from "../../agent/src/hypervisor/cloud-hypervisor/driver";
import {
  CloudHypervisorApiError,
  VmmUnavailableError,
  VmNotFoundError,
} from "../../agent/src/hypervisor/cloud-hypervisor/errors";
import { vmConfig } from "../../agent/src/hypervisor/cloud-hypervisor/vm-config";
import type { VmState } from "../../agent/src/hypervisor/hypervisor";
import { SIM_BIN, simSandbox, startSim, until, vmSpec } from "./support";

type ChState = "N" | "C" | "R" | "P";
const STATES: ChState[] = ["N", "C", "R", "P"];

/**
 * Notes §a, one row per route: per state, "status" or "status>next state". Bodies are what the
 * driver would send. Rows marked (sim) are where the simulator chose a status the notes leave open.
 */
type Row = { endpoint: string; method: "GET" | "PUT"; body?: unknown } & Record<ChState, string>;

function table(snapshotDir: string, dir: string): Row[] {
  return [
    { endpoint: "vmm.ping", method: "GET", N: "200", C: "200", R: "200", P: "200" },
    { endpoint: "vm.info", method: "GET", N: "404", C: "200", R: "200", P: "200" },
    { endpoint: "vm.counters", method: "GET", N: "500", C: "500", R: "200", P: "200" },
    {
      endpoint: "vm.create",
      method: "PUT",
      body: baseConfig(dir),
      N: "204>C",
      C: "500",
      R: "500",
      P: "500",
    },
    { endpoint: "vm.delete", method: "PUT", N: "204", C: "204>N", R: "204>N", P: "204>N" },
    { endpoint: "vm.boot", method: "PUT", N: "404", C: "204>R", R: "500", P: "500" },
    { endpoint: "vm.pause", method: "PUT", N: "500", C: "500", R: "204>P", P: "500" },
    { endpoint: "vm.resume", method: "PUT", N: "500", C: "500", R: "500", P: "204>R" },
    { endpoint: "vm.shutdown", method: "PUT", N: "500", C: "500", R: "204>C", P: "204>C" },
    { endpoint: "vm.reboot", method: "PUT", N: "404", C: "404", R: "204", P: "204>R" },
    { endpoint: "vm.power-button", method: "PUT", N: "500", C: "500", R: "204", P: "204" },
    { endpoint: "vm.nmi", method: "PUT", N: "500", C: "500", R: "204", P: "204" },
    {
      endpoint: "vm.resize",
      method: "PUT",
      body: { desired_vcpus: 2 },
      N: "404",
      C: "204",
      R: "204",
      P: "204",
    },
    {
      endpoint: "vm.resize-disk",
      method: "PUT",
      body: { id: "root", desired_size: 4294967296 },
      N: "404",
      C: "500",
      R: "204",
      P: "204",
    },
    {
      endpoint: "vm.resize-disk",
      method: "PUT",
      body: { id: "nope", desired_size: 4294967296 },
      N: "404",
      C: "500",
      R: "404",
      P: "404",
    },
    {
      endpoint: "vm.resize-zone",
      method: "PUT",
      body: { id: "nozone", desired_ram: 1073741824 },
      N: "404",
      C: "500",
      R: "500",
      P: "500",
    },
    {
      endpoint: "vm.add-disk",
      method: "PUT",
      body: { id: "extra", path: join(dir, "extra.raw"), image_type: "Raw" },
      N: "404",
      C: "204",
      R: "200",
      P: "200",
    },
    {
      endpoint: "vm.add-disk",
      method: "PUT",
      body: { id: "root", path: join(dir, "other.raw"), image_type: "Raw" },
      N: "404",
      C: "409",
      R: "409",
      P: "409",
    },
    {
      endpoint: "vm.add-net",
      method: "PUT",
      body: { id: "nic1", tap: "tap-test1", mac: "52:54:00:00:00:02" },
      N: "404",
      C: "204",
      R: "200",
      P: "200",
    },
    {
      endpoint: "vm.add-pmem",
      method: "PUT",
      body: { file: join(dir, "pmem.img") },
      N: "404",
      C: "204",
      R: "200",
      P: "200",
    },
    {
      endpoint: "vm.add-vsock",
      method: "PUT",
      body: { cid: 3, socket: join(dir, "vsock.sock") },
      N: "404",
      C: "204",
      R: "200",
      P: "200",
    },
    {
      // virtio-fs is vhost-user: it needs shared memory, which the base config lacks.
      endpoint: "vm.add-fs",
      method: "PUT",
      body: { tag: "fs0", socket: join(dir, "fs.sock"), num_queues: 1, queue_size: 1024 },
      N: "404",
      C: "400",
      R: "400",
      P: "400",
    },
    {
      endpoint: "vm.remove-device",
      method: "PUT",
      body: { id: "seed" },
      N: "404",
      C: "204",
      R: "204",
      P: "204",
    },
    {
      endpoint: "vm.remove-device",
      method: "PUT",
      body: { id: "nope" },
      N: "404",
      C: "404",
      R: "404",
      P: "404",
    },
    {
      endpoint: "vm.snapshot",
      method: "PUT",
      body: { destination_url: `file://${join(dir, "snap-table")}` },
      N: "500",
      C: "500",
      R: "500",
      P: "204",
    },
    {
      endpoint: "vm.restore",
      method: "PUT",
      body: { source_url: `file://${snapshotDir}` },
      N: "204>P",
      C: "500",
      R: "500",
      P: "500",
    },
    {
      endpoint: "vm.restore",
      method: "PUT",
      body: { source_url: `file://${snapshotDir}`, resume: true },
      N: "204>R",
      C: "500",
      R: "500",
      P: "500",
    },
    { endpoint: "vm.coredump", method: "PUT", body: {}, N: "404", C: "404", R: "404", P: "404" },
    {
      // (sim) migration is not simulated: always 500, which is also CH's answer in these states.
      endpoint: "vm.send-migration",
      method: "PUT",
      body: { destination_url: "unix:/nonexistent" },
      N: "500",
      C: "500",
      R: "500",
      P: "500",
    },
    // Wrong method and missing bodies (notes §a generic rules).
    { endpoint: "vm.info", method: "PUT", N: "400", C: "400", R: "400", P: "400" },
    { endpoint: "vm.resize", method: "PUT", N: "400", C: "400", R: "400", P: "400" },
  ];
}

function baseConfig(dir: string): Record<string, unknown> {
  return vmConfig(vmSpec(dir), join(dir, "serial.log"));
}

describe("CH API state machine through the driver's API client (notes §a table)", () => {
  const sandbox = simSandbox("ch-states-");
  let api: CloudHypervisorApi;
  const dir = () => sandbox.dataDir;

  const stateOf = async (): Promise<ChState> => {
    const reply = await api.call("GET", "vm.info");
    if (reply.status === 404) return "N";
    const state = (JSON.parse(reply.text) as { state: string }).state;
    return state === "Running" ? "R" : state === "Paused" ? "P" : "C";
  };
  const toState = async (target: ChState) => {
    await api.put("vm.delete");
    if (target === "N") return;
    await api.put("vm.create", baseConfig(dir()));
    if (target === "C") return;
    await api.put("vm.boot");
    if (target === "P") await api.put("vm.pause");
  };

  beforeAll(async () => {
    const sim = await startSim(sandbox, "table", {
      args: ["--no-shutdown"],
      // The guest must not react to the power button during the table.
      env: { CH_SIM_POWER_BUTTON_DELAY_MS: "600000" },
    });
    api = new CloudHypervisorApi(sim.socket);
    await toState("P");
    await api.put("vm.snapshot", { destination_url: `file://${join(dir(), "snap")}` });
  });
  afterAll(() => api.close());

  for (const from of STATES) {
    it(`every route from state ${from}`, async () => {
      const mismatches: string[] = [];
      for (const row of table(join(sandbox.dataDir, "snap"), sandbox.dataDir)) {
        await toState(from);
        const [status, next = from] = row[from].split(">");
        const reply = await api.call(row.method, row.endpoint, row.body);
        const after = await stateOf();
        const label = `${row.method} ${row.endpoint} ${JSON.stringify(row.body ?? null)} in ${from}`;
        if (String(reply.status) !== status || after !== next)
          mismatches.push(`${label}: got ${reply.status}>${after}, want ${status}>${next}`);
        // Errors are JSON string arrays (or empty for the generic bodiless 400s).
        if (reply.status >= 400 && reply.text !== "") {
          const body: unknown = JSON.parse(reply.text);
          if (!Array.isArray(body) || !body.every((s) => typeof s === "string"))
            mismatches.push(`${label}: error body ${reply.text}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it("hot-add answers {id, bdf}, a re-added device gets its BDF back, cold-add is 204", async () => {
    await toState("R");
    const disk = { id: "hot", path: join(dir(), "hot.raw"), image_type: "Raw" };
    const added = await api.add("vm.add-disk", disk);
    expect(added).toEqual({ id: "hot", bdf: expect.stringMatching(/^0000:00:[0-9a-f]{2}\.0$/) });
    await api.put("vm.remove-device", { id: "hot" });
    expect(await api.add("vm.add-disk", disk)).toEqual(added);
    // Hot-added devices are written into the config and survive a reboot.
    await api.put("vm.reboot");
    const info = await api.info();
    expect(info.device_tree?.hot?.pci_bdf).toMatch(/^0000:00:/);
    expect(JSON.stringify(info.config.disks)).toContain('"id":"hot"');
    await toState("C");
    expect(await api.add("vm.add-disk", disk)).toBeUndefined();
    // Out-of-range and taken PCI device ids fail the hotplug (test_invalid/duplicate_pci_device_id).
    await toState("R");
    const pinned = (pci_device_id: number) =>
      api.call("PUT", "vm.add-disk", { id: "pinned", path: join(dir(), "p.raw"), pci_device_id });
    const outOfRange = await pinned(188);
    expect(outOfRange.status).toBe(500);
    expect(outOfRange.text).toContain(
      "Given PCI device ID (188) is out of the supported range of 0..32",
    );
    const taken = await pinned(1);
    expect(taken.text).toContain("Valid PCI device identifier but already used: 1");
  });

  it("counters restart when the VM object is rebuilt and are parsed exactly", async () => {
    await toState("R");
    const first = await api.counters();
    expect(first.root?.read_latency_min).toBe(18446744073709551615n);
    await api.counters();
    const third = await api.counters();
    expect(third.root?.read_ops).toBe(32n);
    await api.put("vm.reboot");
    expect((await api.counters()).root?.read_ops).toBe(0n);
  });
});

describe("driver operations in every VM state", () => {
  const sandbox = simSandbox("ch-drv-");
  let driver: CloudHypervisorDriver;
  const id = "vm-states";

  beforeAll(() => {
    driver = new CloudHypervisorDriver({
      binary: SIM_BIN,
      runRoot: sandbox.runRoot,
      readyTimeoutMs: 15_000,
      env: { CH_SIM_POWER_BUTTON_DELAY_MS: "20" },
    });
  });
  afterAll(() => driver.close());

  const state = async () => (await driver.info(id)).state;
  const toState = async (target: VmState) => {
    let now = await state();
    if (target === "absent") return driver.delete(id);
    if (now === "absent") now = (await driver.create(id, vmSpec(sandbox.dataDir))).state;
    if (target === "stopped") {
      if (now !== "running" && now !== "paused") await driver.boot(id);
      const { pid } = await driver.info(id);
      if (pid !== undefined) process.kill(pid, "SIGKILL");
      await until("VMM gone", state, (s) => s === "stopped");
      return;
    }
    if (now === "stopped") now = (await driver.boot(id)).state;
    if (target === "created") {
      if (now !== "created") await driver.shutdown(id, { graceful: false });
      return;
    }
    if (now === "created") now = (await driver.boot(id)).state;
    if (target === "running" && now === "paused") await driver.resume(id);
    if (target === "paused" && now === "running") await driver.pause(id);
  };

  type Expect = VmState | { error: new (...args: never[]) => Error; status?: number };
  const api = (status: number) => ({ error: CloudHypervisorApiError, status });
  const gone = { error: VmmUnavailableError };
  const cases: Array<{
    op: string;
    run: () => Promise<unknown>;
    want: Partial<Record<VmState, Expect>>;
  }> = [
    {
      op: "boot",
      run: () => driver.boot(id),
      want: {
        absent: { error: VmNotFoundError },
        created: "running",
        running: api(500),
        paused: api(500),
        stopped: "running",
      },
    },
    {
      op: "pause",
      run: () => driver.pause(id),
      want: { absent: gone, created: api(500), running: "paused", paused: api(500), stopped: gone },
    },
    {
      op: "resume",
      run: () => driver.resume(id),
      want: { created: api(500), running: api(500), paused: "running", stopped: gone },
    },
    {
      op: "reboot",
      run: () => driver.reboot(id),
      want: { created: api(404), running: "running", paused: "running" },
    },
    {
      op: "shutdown (forced)",
      run: () => driver.shutdown(id, { graceful: false }),
      want: {
        absent: "absent",
        created: "created",
        running: "created",
        paused: "created",
        stopped: "stopped",
      },
    },
    {
      op: "shutdown (graceful)",
      run: () => driver.shutdown(id, { timeoutMs: 3_000 }),
      want: { created: "created", running: "created", paused: "created" },
    },
    {
      op: "counters",
      run: () => driver.counters(id),
      want: { created: api(500), running: "running", paused: "paused", stopped: gone },
    },
    {
      op: "snapshot",
      run: () => driver.snapshot(id, join(sandbox.dataDir, "snap-driver")),
      want: { created: api(500), running: api(500), paused: "paused" },
    },
    {
      op: "resize",
      run: () => driver.resize(id, { vcpus: 2, memoryBytes: 2 * 1024 * 1024 * 1024 }),
      want: { created: "created", running: "running", paused: "paused" },
    },
    {
      op: "delete",
      run: () => driver.delete(id),
      want: { absent: "absent", created: "absent", running: "absent", stopped: "absent" },
    },
  ];

  for (const { op, run, want } of cases) {
    it(`${op}: ${Object.keys(want).join(", ")}`, async () => {
      for (const [from, expected] of Object.entries(want) as Array<[VmState, Expect]>) {
        await toState(from);
        expect(await state(), `reached ${from}`).toBe(from);
        if (typeof expected === "string") {
          await run();
          expect(await state(), `${op} from ${from}`).toBe(expected);
        } else {
          const error = await run().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, `${op} from ${from}`).toBeInstanceOf(expected.error);
          if (expected.status !== undefined)
            expect((error as CloudHypervisorApiError).status, `${op} from ${from}`).toBe(
              expected.status,
            );
          // The state did not change.
          expect(await state(), `${op} from ${from} keeps the state`).toBe(from);
        }
      }
    });
  }

  it("reports graceful vs forced shutdown", async () => {
    await toState("running");
    expect((await driver.shutdown(id)).method).toBe("graceful");
    expect((await driver.shutdown(id)).method).toBe("already-stopped");
    await toState("paused");
    expect((await driver.shutdown(id)).method).toBe("forced");
  });
});
