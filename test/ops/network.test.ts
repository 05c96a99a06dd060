import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExec, type Exec } from "../../agent/src/host/exec";
import { macAddress, tapName } from "../../agent/src/host/network";
import { type VmOpError, vmOpHandlers } from "../../agent/src/ops";
import type { OpsEnv } from "./fixtures/env";
import {
  createParams,
  ImageServer,
  MiB,
  makeImage,
  opsSandbox,
  type TestImage,
  vmmsOf,
} from "./support";

/** VM ops with a bridge configured, every iproute2 call inside a fresh network namespace. */
describe("VM ops with networking (network namespace, real iproute2)", () => {
  const sandbox = opsSandbox("st-net-");
  const server = new ImageServer();
  const ns = `strato-ops-${randomBytes(4).toString("hex")}`;
  const host = createExec();
  const inNs: Exec = createExec({ prefix: ["ip", "netns", "exec", ns] });
  let nsCreated = false;
  let image: TestImage;
  let env: OpsEnv;

  beforeAll(async () => {
    try {
      await host("ip", ["netns", "add", ns]);
      nsCreated = true;
    } catch (error) {
      throw new Error(
        `cannot create network namespace ${ns} (needs root/CAP_SYS_ADMIN and iproute2): ${String(error)}`,
      );
    }
    await inNs("ip", ["link", "add", "br-vms", "type", "bridge"]);
    await inNs("ip", ["link", "set", "dev", "br-vms", "up"]);
    await server.start();
    image = await makeImage(server, sandbox.root, "base.qcow2", "qcow2", 64 * MiB);
    env = await sandbox.openEnv(sandbox.config({ netns: ns, bridge: "br-vms" }));
  });
  afterAll(async () => {
    await server.stop();
    if (nsCreated) await host("ip", ["netns", "del", ns]);
  });

  const handlers = () => vmOpHandlers(env.ops);

  async function link(name: string) {
    const { stdout } = await inNs("ip", ["-j", "-d", "link", "show", "dev", name]);
    const [info] = JSON.parse(stdout) as { master?: string; flags: string[]; ifalias?: string }[];
    if (!info) throw new Error(`no link ${name}`);
    return info;
  }

  it("create gives the VM a TAP on the bridge and a matching network-config; delete removes it", async () => {
    const tap = tapName("vm-n", 0);
    const mac = macAddress("vm-n", 0);
    const created = await handlers()["vm.create"](createParams(image), { resourceId: "vm-n" });
    expect(created).toMatchObject({
      observed: { state: "running" },
      output: { nic: { mac, bridge: "br-vms" } },
    });
    expect(await link(tap)).toMatchObject({ master: "br-vms", ifalias: "strato vm=vm-n nic=0" });
    expect((await link(tap)).flags).toContain("UP");
    const config = (await env.driver.info("vm-n")).config ?? {};
    expect(config.net).toEqual([expect.objectContaining({ id: "nic0", tap, mac })]);
    const seed = join(sandbox.paths.state, "vms", "vm-n", "seed.img");
    const networkConfig = (await host("mtype", ["-i", seed, "::network-config"])).stdout;
    expect(networkConfig).toContain(`macaddress: ${mac}`);

    // Re-run, and a stop/start, keep the same TAP.
    expect(
      (await handlers()["vm.create"](createParams(image), { resourceId: "vm-n" })).observed,
    ).toEqual(created.observed);
    await handlers()["vm.stop"]({ graceful: false, timeoutS: 1 }, { resourceId: "vm-n" });
    // A TAP that lost its bridge while stopped is re-attached by start.
    await inNs("ip", ["link", "set", "dev", tap, "nomaster"]);
    expect((await handlers()["vm.start"]({}, { resourceId: "vm-n" })).observed.state).toBe(
      "running",
    );
    expect((await link(tap)).master).toBe("br-vms");

    const deleted = await handlers()["vm.delete"]({}, { resourceId: "vm-n" });
    expect(deleted).toMatchObject({
      observed: { state: "deleted" },
      output: { removedTaps: [tap] },
    });
    await expect(link(tap)).rejects.toThrow(/does not exist/);
    expect((await handlers()["vm.delete"]({}, { resourceId: "vm-n" })).observed.state).toBe(
      "deleted",
    );
  });

  it("a foreign interface under the VM's TAP name is tap_conflict and is left alone", async () => {
    const tap = tapName("vm-f", 0);
    await inNs("ip", ["tuntap", "add", "dev", tap, "mode", "tap"]);
    const error = (await handlers()
      ["vm.create"](createParams(image), { resourceId: "vm-f" })
      .catch((e: unknown) => e)) as VmOpError;
    expect(error).toMatchObject({ code: "tap_conflict", retryable: false });
    expect(error.message).toContain("not ours");
    expect(vmmsOf(sandbox.paths.runRoot, "vm-f")).toEqual([]);
    // Delete cleans up what the VM had, and never the foreign device.
    expect((await handlers()["vm.delete"]({}, { resourceId: "vm-f" })).observed.state).toBe(
      "deleted",
    );
    expect((await link(tap)).ifalias).toBeUndefined();
  });

  it("a missing bridge is bridge_missing", async () => {
    const other = await sandbox.openEnv(sandbox.config({ netns: ns, bridge: "br-nope" }));
    const error = (await vmOpHandlers(other.ops)
      ["vm.create"](createParams(image), { resourceId: "vm-b" })
      .catch((e: unknown) => e)) as VmOpError;
    expect(error).toMatchObject({ code: "bridge_missing", retryable: false });
    await vmOpHandlers(other.ops)["vm.delete"]({}, { resourceId: "vm-b" });
  });
});
