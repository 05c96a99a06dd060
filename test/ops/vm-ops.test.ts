import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpHandler } from "../../agent/src/executor";
import { qemuImgInfo } from "../../agent/src/host/disks";
import { CommandError, createExec, type Exec } from "../../agent/src/host/exec";
import {
  executorHandlers,
  type OpResult,
  VM_OP_NAMES,
  VmOpError,
  type VmOpHandler,
  validateVmOpParams,
  vmOpHandlers,
} from "../../agent/src/ops";
import type { OpsEnv } from "./fixtures/env";
import {
  createParams,
  filesIn,
  GiB,
  ImageServer,
  MiB,
  makeImage,
  opsSandbox,
  type TestImage,
  vmmsOf,
} from "./support";

/** Runs a handler and returns the typed error it rejected with. */
async function failure(promise: Promise<OpResult>): Promise<VmOpError> {
  const error = await promise.then(
    (r) => new Error(`expected a failure, got ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof VmOpError)) throw error;
  return error;
}

describe("VM ops against the simulator, real qemu-img/mtools", () => {
  const sandbox = opsSandbox("st-ops-");
  const server = new ImageServer();
  const exec = createExec();
  let env: OpsEnv;
  let ops: Record<string, VmOpHandler>;
  let qcow: TestImage;
  let raw: TestImage;
  const op = (name: string, vmId: string, params: unknown = {}, idem?: string) => {
    const handler = ops[name];
    if (!handler) throw new Error(`no handler ${name}`);
    return handler(params, { resourceId: vmId, ...(idem ? { idem } : {}) });
  };

  beforeAll(async () => {
    await server.start();
    qcow = await makeImage(server, sandbox.root, "base.qcow2", "qcow2", 64 * MiB);
    raw = await makeImage(server, sandbox.root, "base.raw", "raw", 8 * MiB);
    env = await sandbox.openEnv(sandbox.config());
    ops = vmOpHandlers(env.ops);
  });
  afterAll(() => server.stop());

  it("registers every op, and validates params with typed errors", async () => {
    expect(Object.keys(ops).sort()).toEqual([...VM_OP_NAMES].sort());
    expect(validateVmOpParams("vm.create", createParams(qcow))).toBe(true);
    expect(validateVmOpParams("vm.create", { name: "x" })).toBe(false);
    expect(validateVmOpParams("vm.nope", {})).toBe(false);
    // The control plane sends the VM's size with every op: extra keys are fine.
    expect(
      validateVmOpParams("vm.stop", { name: "a", vcpus: 1, graceful: true, timeoutS: 5 }),
    ).toBe(true);

    const bad = await failure(op("vm.create", "vm-bad", createParams(qcow, { vcpus: 0 })));
    expect(bad).toMatchObject({ code: "invalid_params", retryable: false });
    expect(bad.issues).toEqual([expect.objectContaining({ path: "vcpus" })]);
    const badSha = await failure(
      op("vm.create", "vm-bad", createParams(qcow, { image: { ...qcow, sha256: "abc" } })),
    );
    expect(badSha.issues?.map((i) => i.path)).toEqual(["image.id", "image.sha256"]);
    expect((await failure(op("vm.resize", "vm-bad", {}))).code).toBe("invalid_params");
    expect((await failure(op("vm.stop", "vm-bad", { timeoutS: -1 }))).code).toBe("invalid_params");
    expect((await failure(op("vm.start", "../etc", {}))).code).toBe("invalid_params");
    // Nothing was made for the invalid items.
    expect(filesIn(sandbox.paths.state)).toEqual([]);
  });

  it("create → running, with image, overlay disk, seed and console; a re-run changes nothing", async () => {
    const params = createParams(qcow);
    const first = await op("vm.create", "vm-a", params);
    expect(first.observed).toMatchObject({
      state: "running",
      hostVmId: "vm-a",
      vcpus: 1,
      memoryMb: 512,
      diskGb: 1,
    });
    expect(first.observed.pid).toBeGreaterThan(0);
    expect(first.output).toMatchObject({ image: { id: "img_test", sha256: qcow.sha256 } });

    // The disk is a qcow2 overlay on the cached image, grown to diskGb.
    const disk = join(sandbox.paths.disks, "vm-a", "root.qcow2");
    const info = await qemuImgInfo(exec, disk);
    expect(info).toMatchObject({
      format: "qcow2",
      virtualSizeBytes: 1 * GiB,
      backingFile: join(sandbox.paths.cache, "sha256", qcow.sha256),
      backingFormat: "qcow2",
    });
    // The seed is a CIDATA vfat with the hostname and keys.
    const seed = join(sandbox.paths.state, "vms", "vm-a", "seed.img");
    const metaData = (await exec("mtype", ["-i", seed, "::meta-data"])).stdout;
    expect(metaData).toContain("local-hostname: web-1");
    expect(metaData).toContain("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTests");
    const userData = (await exec("mtype", ["-i", seed, "::user-data"])).stdout;
    expect(userData).toContain("htop");
    expect(userData).toContain("ssh_authorized_keys");
    // The image is pinned to the VM.
    expect(env.images.list()).toEqual([
      expect.objectContaining({ sha256: qcow.sha256, holders: ["vm-a"] }),
    ]);
    // What the hypervisor was given.
    const config = (await env.driver.info("vm-a")).config ?? {};
    expect(config.disks).toEqual([
      expect.objectContaining({ id: "root", path: disk, image_type: "Qcow2", backing_files: true }),
      expect.objectContaining({ id: "seed", path: seed, image_type: "Raw", readonly: true }),
    ]);
    expect(config.net ?? []).toEqual([]);
    expect(config.serial).toMatchObject({
      mode: "File",
      file: join(sandbox.paths.console, "vm-a.serial.log"),
    });

    const hits = server.hits;
    const again = await op("vm.create", "vm-a", params);
    expect(again.observed).toEqual(first.observed);
    expect(server.hits).toBe(hits);
    expect(vmmsOf(sandbox.paths.runRoot, "vm-a")).toEqual([first.observed.pid]);
    expect(filesIn(join(sandbox.paths.disks, "vm-a"))).toEqual(["root.qcow2"]);
  });

  it("stop → stopped (graceful), start → running, each re-run a no-op", async () => {
    const stop = { graceful: true, timeoutS: 10 };
    const stopped = await op("vm.stop", "vm-a", stop);
    expect(stopped.observed).toMatchObject({ state: "stopped", hostVmId: "vm-a" });
    expect(stopped.output).toEqual({ method: "graceful" });
    const stoppedAgain = await op("vm.stop", "vm-a", stop);
    expect(stoppedAgain.observed).toEqual(stopped.observed);
    expect(stoppedAgain.output).toBeUndefined();

    const started = await op("vm.start", "vm-a", { name: "web-1" });
    expect(started.observed).toMatchObject({ state: "running" });
    const startedAgain = await op("vm.start", "vm-a");
    expect(startedAgain.observed).toEqual(started.observed);
    expect(vmmsOf(sandbox.paths.runRoot, "vm-a")).toHaveLength(1);

    const forced = await op("vm.stop", "vm-a", { graceful: false, timeoutS: 1 });
    expect(forced).toMatchObject({ observed: { state: "stopped" }, output: { method: "forced" } });
    expect((await op("vm.start", "vm-a")).observed.state).toBe("running");
  });

  it("pause/resume and restart, each re-run a no-op; wrong states are invalid_state", async () => {
    const paused = await op("vm.pause", "vm-a");
    expect(paused.observed.state).toBe("paused");
    expect((await op("vm.pause", "vm-a")).observed).toEqual(paused.observed);
    const resumed = await op("vm.resume", "vm-a");
    expect(resumed.observed.state).toBe("running");
    expect((await op("vm.resume", "vm-a")).observed).toEqual(resumed.observed);
  });

  it("restart reboots once per item (idem) and leaves the VM running", async () => {
    await env.driver.events("vm-a"); // skip what happened so far
    const first = await op("vm.restart", "vm-a", {}, "op_restart_1");
    expect(first).toMatchObject({ observed: { state: "running" }, output: { method: "reboot" } });
    const again = await op("vm.restart", "vm-a", {}, "op_restart_1");
    expect(again).toMatchObject({ observed: { state: "running" }, output: { method: "already" } });
    const reboots = (await env.driver.events("vm-a")).filter(
      (e) => e.source === "vm" && e.event === "rebooted",
    );
    expect(reboots).toHaveLength(1);
  });

  it("pause or resume of a stopped VM fails with invalid_state and the observed state", async () => {
    await op("vm.stop", "vm-a", { graceful: false, timeoutS: 1 });
    const pause = await failure(op("vm.pause", "vm-a"));
    expect(pause).toMatchObject({ code: "invalid_state", retryable: false });
    expect(pause.observed?.state).toBe("stopped");
    expect((await failure(op("vm.resume", "vm-a"))).code).toBe("invalid_state");
  });

  it("resize: only when stopped, the disk only grows; re-run is a no-op", async () => {
    // vm-a is stopped now.
    const resized = await op("vm.resize", "vm-a", { vcpus: 2, memoryMb: 1024, diskGb: 3 });
    expect(resized.observed).toMatchObject({
      state: "stopped",
      vcpus: 2,
      memoryMb: 1024,
      diskGb: 3,
    });
    const disk = join(sandbox.paths.disks, "vm-a", "root.qcow2");
    expect((await qemuImgInfo(exec, disk)).virtualSizeBytes).toBe(3 * GiB);
    const again = await op("vm.resize", "vm-a", { vcpus: 2, memoryMb: 1024, diskGb: 3 });
    expect(again.observed).toEqual(resized.observed);

    const shrink = await failure(op("vm.resize", "vm-a", { diskGb: 2 }));
    expect(shrink.code).toBe("disk_too_small");

    const running = await op("vm.start", "vm-a");
    expect(running.observed).toMatchObject({ state: "running", vcpus: 2, memoryMb: 1024 });
    const refused = await failure(op("vm.resize", "vm-a", { vcpus: 4 }));
    expect(refused).toMatchObject({ code: "invalid_state" });
    expect(refused.observed?.state).toBe("running");
    // Nor the disk: CH cannot grow the running qcow2 overlay (it has a backing file).
    const grow = await failure(op("vm.resize", "vm-a", { diskGb: 4 }));
    expect(grow).toMatchObject({ code: "invalid_state" });
    expect(grow.observed).toMatchObject({ state: "running", diskGb: 3 });
    expect((await qemuImgInfo(exec, disk)).virtualSizeBytes).toBe(3 * GiB);
  });

  it("a VM whose VMM and run directory vanished (host reboot) starts again from its record", async () => {
    await env.driver.delete("vm-a");
    const inventory = await env.ops.inventory();
    expect(inventory.find((e) => e.vmId === "vm-a")).toMatchObject({
      state: "stopped",
      name: "web-1",
    });
    const started = await op("vm.start", "vm-a");
    expect(started.observed).toMatchObject({
      state: "running",
      vcpus: 2,
      memoryMb: 1024,
      diskGb: 3,
    });
    // The refused running grow left the record and the disk as they were.
    const disk = join(sandbox.paths.disks, "vm-a", "root.qcow2");
    expect((await qemuImgInfo(exec, disk)).virtualSizeBytes).toBe(3 * GiB);
  });

  it("a killed VMM shows in the inventory as stopped with the reason, also to a new agent", async () => {
    const created = await op("vm.create", "vm-k", createParams(raw, { name: "raw-vm" }));
    expect(created.observed.state).toBe("running");
    const pid = created.observed.pid ?? 0;
    process.kill(pid, "SIGKILL");
    const deadline = Date.now() + 5_000;
    let entry = (await env.ops.inventory()).find((e) => e.vmId === "vm-k");
    while (entry?.state !== "stopped" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      entry = (await env.ops.inventory()).find((e) => e.vmId === "vm-k");
    }
    expect(entry).toMatchObject({
      state: "stopped",
      name: "raw-vm",
      managed: true,
      reason: { kind: "crashed", signal: "SIGKILL", lastEvent: "vm/booted" },
    });
    // A restarted agent (new driver, new ops) has only the event log to go by.
    const fresh = await sandbox.openEnv(sandbox.config());
    const seen = await fresh.ops.inventory();
    expect(seen.find((e) => e.vmId === "vm-k")).toMatchObject({
      state: "stopped",
      reason: { kind: "crashed", lastEvent: "vm/booted" },
    });
    // …and re-adopts the running one.
    const a = seen.find((e) => e.vmId === "vm-a");
    expect(a).toMatchObject({ state: "running", pid: vmmsOf(sandbox.paths.runRoot, "vm-a")[0] });
    // A start brings the crashed VM back with one new VMM.
    const again = await vmOpHandlers(fresh.ops)["vm.start"]({}, { resourceId: "vm-k" });
    expect(again.observed.state).toBe("running");
    expect(vmmsOf(sandbox.paths.runRoot, "vm-k")).toEqual([again.observed.pid]);
  });

  it("delete removes VMM, disk, seed, console log, record and pin; deleting again succeeds", async () => {
    const console = join(sandbox.paths.console, "vm-k.serial.log");
    expect(existsSync(console)).toBe(true);
    const deleted = await op("vm.delete", "vm-k");
    expect(deleted.observed).toEqual({ state: "deleted", hostVmId: "vm-k" });
    expect(vmmsOf(sandbox.paths.runRoot, "vm-k")).toEqual([]);
    expect(existsSync(join(sandbox.paths.runRoot, "vm-k"))).toBe(false);
    expect(existsSync(join(sandbox.paths.disks, "vm-k"))).toBe(false);
    expect(existsSync(join(sandbox.paths.state, "vms", "vm-k"))).toBe(false);
    expect(existsSync(console)).toBe(false);
    expect(env.images.list().find((i) => i.sha256 === raw.sha256)?.holders ?? []).toEqual([]);
    expect((await op("vm.delete", "vm-k")).observed).toEqual(deleted.observed);
    // Never existed: same answer.
    expect((await op("vm.delete", "vm-never")).observed).toEqual({
      state: "deleted",
      hostVmId: "vm-never",
    });
    // Other ops on a VM that is not here say so.
    const start = await failure(op("vm.start", "vm-never"));
    expect(start).toMatchObject({ code: "vm_not_found", observed: { state: "deleted" } });

    await op("vm.delete", "vm-a");
    expect(vmmsOf(sandbox.paths.runRoot, "vm-a")).toEqual([]);
    expect(env.images.list().every((i) => i.holders.length === 0)).toBe(true);
    expect(filesIn(sandbox.paths.disks)).toEqual([]);
    expect(filesIn(join(sandbox.paths.state, "vms"))).toEqual([]);
    expect(await env.ops.inventory()).toEqual([]);
  });

  it("an image checksum mismatch is a typed, final error; the VM shows as error until deleted", async () => {
    const wrong = { ...qcow, sha256: "0".repeat(64) };
    const error = await failure(op("vm.create", "vm-sum", createParams(wrong)));
    expect(error).toMatchObject({ code: "image_checksum_mismatch", retryable: false });
    expect(error.message).toContain("sha256 mismatch");
    expect(vmmsOf(sandbox.paths.runRoot, "vm-sum")).toEqual([]);
    expect((await env.ops.inventory()).find((e) => e.vmId === "vm-sum")?.state).toBe("error");
    expect((await op("vm.delete", "vm-sum")).observed.state).toBe("deleted");
    expect(filesIn(join(sandbox.paths.state, "vms"))).toEqual([]);
  });

  it("a create whose image download stalls ends at once when cancelled, not when the server gives up", async () => {
    server.stalled.add("/stalled.qcow2");
    const stalled = { ...qcow, url: server.url("/stalled.qcow2"), sha256: "1".repeat(64) };
    const handler = ops["vm.create"];
    if (!handler) throw new Error("no vm.create");
    const abort = new AbortController();
    const running = handler(createParams(stalled), {
      resourceId: "vm-stall",
      signal: abort.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cancelledAt = Date.now();
    abort.abort("cancel");
    const error = await failure(running);
    expect(error).toMatchObject({ code: "cancelled" });
    expect(Date.now() - cancelledAt).toBeLessThan(1_000);
  });

  it("a full disk (qemu-img ENOSPC through the exec seam) is disk_full", async () => {
    const full: Exec = async (command, args, options) => {
      if (command === "qemu-img" && args[0] === "create") {
        throw new CommandError(command, args, {
          exitCode: 1,
          signal: null,
          stdout: "",
          stderr: `qemu-img: ${String(args.at(-1))}: Could not create: No space left on device`,
        });
      }
      return exec(command, args, options);
    };
    const fullEnv = await sandbox.openEnv(sandbox.config(), { diskExec: full });
    const error = await failure(
      vmOpHandlers(fullEnv.ops)["vm.create"](createParams(qcow), { resourceId: "vm-full" }),
    );
    expect(error).toMatchObject({ code: "disk_full", retryable: false });
    expect(filesIn(join(sandbox.paths.disks, "vm-full"))).toEqual([]);
    expect(vmmsOf(sandbox.paths.runRoot, "vm-full")).toEqual([]);
    await vmOpHandlers(fullEnv.ops)["vm.delete"]({}, { resourceId: "vm-full" });
  });

  it("user-data that is not valid #cloud-config YAML is invalid_user_data", async () => {
    const error = await failure(
      op("vm.create", "vm-ud", createParams(qcow, { userData: "#cloud-config\nfoo: [unclosed\n" })),
    );
    expect(error).toMatchObject({ code: "invalid_user_data", retryable: false });
    await op("vm.delete", "vm-ud");
  });

  it("fits the runtime's OpHandler shape: validate, then outcomes with observed state", async () => {
    const handlers = executorHandlers(vmOpHandlers(env.ops));
    // Type-checked against the runtime's own interface.
    const registrable: Record<string, OpHandler> = handlers;
    expect(Object.keys(registrable)).toHaveLength(8);
    const item = (op: string, params: Record<string, unknown>) => ({
      item: { params, resource: { kind: "vm", id: "vm-x", uid: "vm-x" }, idem: `op_${op}` },
      signal: new AbortController().signal,
    });
    const stop = handlers["vm.stop"];
    const del = handlers["vm.delete"];
    expect(stop.validate({ graceful: "yes" })).toBe(false);
    expect(stop.validate({ graceful: true, timeoutS: 3 })).toBe(true);
    expect(await stop.run(item("vm.stop", { graceful: true, timeoutS: 3 }))).toEqual({
      outcome: "failed",
      error: { code: "vm_not_found", message: "no VM vm-x on this host", retryable: false },
      observed: { state: "deleted", hostVmId: "vm-x" },
    });
    expect(await del.run(item("vm.delete", {}))).toEqual({
      outcome: "succeeded",
      observed: { state: "deleted", hostVmId: "vm-x" },
      output: { removedTaps: [] },
    });
    const aborted = new AbortController();
    aborted.abort();
    // Cancelled before it began: with the VM as it was left, for the control plane to follow.
    expect(await del.run({ ...item("vm.delete", {}), signal: aborted.signal })).toEqual({
      outcome: "cancelled",
      observed: { state: "deleted", hostVmId: "vm-x" },
    });
  });

  it("keeps the console log across a VMM restart", async () => {
    await op("vm.create", "vm-c", createParams(qcow, { name: "cons" }));
    await op("vm.stop", "vm-c", { graceful: false, timeoutS: 1 });
    await op("vm.start", "vm-c");
    const log = join(sandbox.paths.console, "vm-c.serial.log");
    expect(readFileSync(`${log}.1`, "utf8").length).toBeGreaterThan(0);
    await op("vm.delete", "vm-c");
    expect(existsSync(`${log}.1`)).toBe(false);
  });
});
