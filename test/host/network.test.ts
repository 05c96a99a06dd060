import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExec, type Exec } from "../../agent/src/host/exec";
import {
  BridgeMissingError,
  createNetwork,
  macAddress,
  TapConflictError,
  tapName,
} from "../../agent/src/host/network";

describe("TAP naming and MACs", () => {
  it("are deterministic, short and per VM + NIC", () => {
    expect(tapName("vm_01J9ZXW", 0)).toBe(tapName("vm_01J9ZXW", 0));
    expect(tapName("vm_01J9ZXW", 0)).not.toBe(tapName("vm_01J9ZXW", 1));
    expect(tapName("vm_01J9ZXW", 0)).not.toBe(tapName("vm_01J9ZXX", 0));
    expect(tapName("a-very-long-vm-id-".repeat(5), 99).length).toBeLessThanOrEqual(15);
    expect(() => tapName("vm", 100)).toThrow();

    const mac = macAddress("vm_01J9ZXW", 3);
    expect(mac).toBe(macAddress("vm_01J9ZXW", 3));
    expect(mac).toMatch(/^([0-9a-f]{2}:){5}03$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    expect(first & 0x02).toBe(0x02); // locally administered
    expect(first & 0x01).toBe(0); // unicast
    expect(macAddress("vm_01J9ZXW", 0)).not.toBe(macAddress("vm_01J9ZXX", 0));
  });
});

describe("TAP devices in a network namespace (real iproute2)", () => {
  const ns = `strato-test-${randomBytes(4).toString("hex")}`;
  const host = createExec();
  // Every command of the module under test runs inside the namespace.
  const inNs: Exec = createExec({ prefix: ["ip", "netns", "exec", ns] });
  const network = createNetwork({ exec: inNs });
  let created = false;

  beforeAll(async () => {
    try {
      await host("ip", ["netns", "add", ns]);
      created = true;
    } catch (error) {
      // Not skipped: a host that cannot run these tests must say so.
      throw new Error(
        `cannot create network namespace ${ns} (needs root/CAP_SYS_ADMIN and iproute2): ${String(error)}`,
      );
    }
    await inNs("ip", ["link", "add", "br-test", "type", "bridge"]);
    await inNs("ip", ["link", "set", "dev", "br-test", "up"]);
  });
  afterAll(async () => {
    if (created) await host("ip", ["netns", "del", ns]);
  });

  async function link(name: string) {
    const { stdout } = await inNs("ip", ["-j", "-d", "link", "show", "dev", name]);
    const [info] = JSON.parse(stdout) as {
      ifindex: number;
      master?: string;
      flags: string[];
      ifalias?: string;
      linkinfo?: { info_data?: { type?: string } };
    }[];
    if (!info) throw new Error(`no link ${name}`);
    return info;
  }

  it("creates a TAP attached to the bridge, and re-creating it is a no-op", async () => {
    const tap = await network.ensureTap({ vmId: "vm-1", nicIndex: 0, bridge: "br-test" });
    expect(tap).toEqual({
      name: tapName("vm-1", 0),
      mac: macAddress("vm-1", 0),
      bridge: "br-test",
      created: true,
    });
    const before = await link(tap.name);
    expect(before.linkinfo?.info_data?.type).toBe("tap");
    expect(before.master).toBe("br-test");
    expect(before.flags).toContain("UP");
    expect(before.ifalias).toBe("strato vm=vm-1 nic=0");

    const again = await network.ensureTap({ vmId: "vm-1", nicIndex: 0, bridge: "br-test" });
    expect(again).toEqual({ ...tap, created: false });
    expect((await link(tap.name)).ifindex).toBe(before.ifindex);
  });

  it("re-attaches an own TAP that lost its bridge", async () => {
    const tap = await network.ensureTap({ vmId: "vm-2", nicIndex: 1, bridge: "br-test" });
    await inNs("ip", ["link", "set", "dev", tap.name, "nomaster", "down"]);
    await network.ensureTap({ vmId: "vm-2", nicIndex: 1, bridge: "br-test" });
    const info = await link(tap.name);
    expect(info.master).toBe("br-test");
    expect(info.flags).toContain("UP");
  });

  it("refuses a foreign interface that has the TAP's name", async () => {
    const name = tapName("vm-3", 0);
    await inNs("ip", ["tuntap", "add", "dev", name, "mode", "tap"]);
    const error = await network
      .ensureTap({ vmId: "vm-3", nicIndex: 0, bridge: "br-test" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TapConflictError);
    expect(String(error)).toContain(`interface ${name} already exists and is not ours`);
    // Deleting it is refused too: someone else's device stays.
    await expect(network.removeTap("vm-3", 0)).rejects.toBeInstanceOf(TapConflictError);
    expect((await link(name)).master).toBeUndefined();

    // Another kind of device under the name is just as foreign.
    await inNs("ip", ["link", "add", tapName("vm-4", 0), "type", "bridge"]);
    await expect(
      network.ensureTap({ vmId: "vm-4", nicIndex: 0, bridge: "br-test" }),
    ).rejects.toThrow(/kind bridge/);
  });

  it("recovers from a create interrupted before the TAP got its final name", async () => {
    const name = tapName("vm-8", 0);
    // What a crash between `ip tuntap add` and the rename leaves: the temporary, unmarked TAP.
    const temporary = `sx${name.slice(2)}`;
    await inNs("ip", ["tuntap", "add", "dev", temporary, "mode", "tap"]);
    const tap = await network.ensureTap({ vmId: "vm-8", nicIndex: 0, bridge: "br-test" });
    expect(tap.created).toBe(true);
    expect((await link(name)).master).toBe("br-test");
    await expect(link(temporary)).rejects.toThrow(/does not exist/);
  });

  it("fails clearly when the bridge is missing", async () => {
    await expect(
      network.ensureTap({ vmId: "vm-5", nicIndex: 0, bridge: "br-nope" }),
    ).rejects.toBeInstanceOf(BridgeMissingError);
  });

  it("removes TAPs on delete; a missing TAP is fine", async () => {
    const a = await network.ensureTap({ vmId: "vm-6", nicIndex: 0, bridge: "br-test" });
    const b = await network.ensureTap({ vmId: "vm-6", nicIndex: 1, bridge: "br-test" });
    const other = await network.ensureTap({ vmId: "vm-7", nicIndex: 0, bridge: "br-test" });

    expect(await network.removeTap("vm-6", 0)).toBe(true);
    expect(await network.removeTap("vm-6", 0)).toBe(false);
    await expect(link(a.name)).rejects.toThrow(/does not exist/);

    expect(await network.removeVmTaps("vm-6")).toEqual([b.name]);
    expect(await network.removeVmTaps("vm-6")).toEqual([]);
    expect((await link(other.name)).master).toBe("br-test");
  });
});
