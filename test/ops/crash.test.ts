import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuImgInfo } from "../../agent/src/host/disks";
import { createExec } from "../../agent/src/host/exec";
import { vmOpHandlers } from "../../agent/src/ops";
import {
  createParams,
  filesIn,
  GiB,
  ImageServer,
  MiB,
  makeImage,
  opsSandbox,
  sleep,
  type TestImage,
  vmmsOf,
} from "./support";

/**
 * The agent is SIGKILLed in the middle of an op (a runner process stands for it), then a new
 * process runs the same item again: exactly one VM, in the right state, and one result.
 */
describe("agent killed mid-op, then the same item again", () => {
  const sandbox = opsSandbox("st-crash-");
  const server = new ImageServer();
  let image: TestImage;

  beforeAll(async () => {
    await server.start();
    image = await makeImage(server, sandbox.root, "base.qcow2", "qcow2", 64 * MiB);
  });
  afterAll(() => server.stop());

  /** Exactly one VMM, one disk, one record, and what a fresh agent sees. */
  async function assertOneVm(vmId: string, state: string) {
    expect(vmmsOf(sandbox.paths.runRoot, vmId)).toHaveLength(1);
    expect(filesIn(join(sandbox.paths.disks, vmId))).toEqual(["root.qcow2"]);
    expect(filesIn(join(sandbox.paths.state, "vms"))).toContain(vmId);
    const fresh = await sandbox.openEnv(sandbox.config());
    const entries = (await fresh.ops.inventory()).filter((e) => e.vmId === vmId);
    expect(entries).toEqual([expect.objectContaining({ vmId, state, managed: true })]);
    await fresh.close();
    return entries[0];
  }

  it("vm.create killed during a slow boot: the rerun waits for that VMM, no second one", async () => {
    const config = sandbox.config({ simEnv: { CH_SIM_BOOT_DELAY_MS: "4000" } });
    const job = { config, op: "vm.create", vmId: "vm-boot", params: createParams(image) };
    const first = sandbox.runOp(job);
    await first.waitForLog("vm: booting");
    await sleep(300);
    await first.kill();
    // The VMM outlives the agent, still inside its boot.
    expect(vmmsOf(sandbox.paths.runRoot, "vm-boot")).toHaveLength(1);
    const [vmm] = vmmsOf(sandbox.paths.runRoot, "vm-boot");
    // Another op meanwhile does not act on a VMM that cannot answer: busy, retryable.
    const impatient = await sandbox.openEnv(sandbox.config({ busyTimeoutMs: 200 }));
    const busy = await vmOpHandlers(impatient.ops)
      ["vm.stop"]({ graceful: false, timeoutS: 1 }, { resourceId: "vm-boot" })
      .catch((e: unknown) => e);
    expect(busy).toMatchObject({ code: "hypervisor_busy", retryable: true });
    await impatient.close();

    const second = sandbox.runOp(job);
    const { result, error } = await second.finish();
    expect(error).toBeUndefined();
    expect(result?.observed).toMatchObject({ state: "running", hostVmId: "vm-boot", pid: vmm });
    // Only one boot was ever sent: the rerun adopted the one in flight.
    const logged = second.lines().map((l) => l.msg);
    expect(logged).not.toContain("vm: booting");
    expect(logged).not.toContain("vm: defining");
    await assertOneVm("vm-boot", "running");
  });

  it("vm.create killed once the disk exists: the rerun finishes with the same disk", async () => {
    const config = sandbox.config();
    const job = { config, op: "vm.create", vmId: "vm-disk", params: createParams(image) };
    const first = sandbox.runOp(job);
    await first.waitForLog("vm: disk ready");
    await first.kill();
    const disk = join(sandbox.paths.disks, "vm-disk", "root.qcow2");
    const before = await qemuImgInfo(createExec(), disk);
    expect(before.virtualSizeBytes).toBe(GiB);

    const second = sandbox.runOp(job);
    const { result, error } = await second.finish();
    expect(error).toBeUndefined();
    expect(result?.observed.state).toBe("running");
    expect(second.lines()).toContainEqual(
      expect.objectContaining({ msg: "vm: disk ready", created: false }),
    );
    await assertOneVm("vm-disk", "running");
    // Re-delivered after success: reports, changes nothing.
    const third = await sandbox.runOp(job).finish();
    expect(third.result?.observed).toEqual(result?.observed);
  });

  it("vm.stop killed while waiting for the guest: the rerun forces it, one VMM, stopped", async () => {
    // The guest ignores the power button, so the graceful wait runs into its timeout.
    const config = sandbox.config({ simEnv: { CH_SIM_IGNORE_POWER_BUTTON: "1" } });
    const created = await sandbox
      .runOp({ config, op: "vm.create", vmId: "vm-stop", params: createParams(image) })
      .finish();
    expect(created.result?.observed.state).toBe("running");
    const pid = created.result?.observed.pid;

    const stop = {
      config,
      op: "vm.stop",
      vmId: "vm-stop",
      params: { graceful: true, timeoutS: 2 },
    };
    const first = sandbox.runOp(stop);
    await first.waitForLog("vm.stop: shutting down");
    await sleep(500);
    await first.kill();
    // Killed mid-wait: the guest still runs.
    const mid = await sandbox.openEnv(sandbox.config());
    expect((await mid.ops.observe("vm-stop")).state).toBe("running");
    await mid.close();

    const second = sandbox.runOp(stop);
    const { result, error } = await second.finish();
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ observed: { state: "stopped" }, output: { method: "forced" } });
    // The same VMM holds the (now stopped) VM: nothing was respawned or duplicated.
    expect(vmmsOf(sandbox.paths.runRoot, "vm-stop")).toEqual([pid]);
    await assertOneVm("vm-stop", "stopped");
    const again = await sandbox.runOp(stop).finish();
    expect(again.result?.observed).toEqual(result?.observed);
  });
});
