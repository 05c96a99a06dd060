import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDiskStore,
  DiskConflictError,
  DiskNoSpaceError,
  DiskShrinkError,
  qemuImgInfo,
} from "../../agent/src/host/disks";
import { CommandError, createExec, type Exec } from "../../agent/src/host/exec";

const MiB = 1024 * 1024;

describe("per-VM disks (real qemu-img)", () => {
  const exec = createExec();
  let root: string;
  let rawBase: string;
  let qcowBase: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "strato-disks-"));
    rawBase = join(root, "base.raw");
    qcowBase = join(root, "base.qcow2");
    await exec("qemu-img", ["create", "-q", "-f", "raw", rawBase, String(4 * MiB)]);
    await exec("qemu-img", ["create", "-q", "-f", "qcow2", qcowBase, String(8 * MiB)]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("makes a qcow2 overlay on the base, grown to the requested size", async () => {
    const store = createDiskStore({ dir: join(root, "vms"), exec });
    const disk = await store.prepare({
      vmId: "vm-a",
      diskId: "root",
      source: { kind: "overlay", base: rawBase, baseFormat: "raw" },
      sizeBytes: 16 * MiB,
    });
    expect(disk).toMatchObject({ format: "qcow2", virtualSizeBytes: 16 * MiB, created: true });
    expect(disk.path).toBe(join(root, "vms", "vm-a", "root.qcow2"));
    const info = await qemuImgInfo(exec, disk.path);
    expect(info).toMatchObject({
      format: "qcow2",
      virtualSizeBytes: 16 * MiB,
      backingFile: rawBase,
      backingFormat: "raw",
    });
    expect(readdirSync(join(root, "vms", "vm-a"))).toEqual(["root.qcow2"]);
  });

  it("is idempotent: an existing matching disk is kept as it is", async () => {
    const store = createDiskStore({ dir: join(root, "vms"), exec });
    const request = {
      vmId: "vm-b",
      diskId: "root",
      source: { kind: "overlay", base: qcowBase, baseFormat: "qcow2" },
      sizeBytes: 12 * MiB,
    } as const;
    const first = await store.prepare(request);
    const inode = statSync(first.path).ino;
    const again = await store.prepare(request);
    expect(again).toEqual({ ...first, created: false });
    expect(statSync(again.path).ino).toBe(inode);

    // A disk grown later (vm.resize-disk) is not shrunk by a re-delivered create.
    await exec("qemu-img", ["resize", "-q", "-f", "qcow2", first.path, String(20 * MiB)]);
    expect((await store.prepare(request)).virtualSizeBytes).toBe(20 * MiB);
  });

  it("makes a raw copy (converting a qcow2 base) and grows it", async () => {
    const store = createDiskStore({ dir: join(root, "vms"), exec });
    const disk = await store.prepare({
      vmId: "vm-c",
      diskId: "data",
      source: { kind: "copy", base: qcowBase, baseFormat: "qcow2" },
      sizeBytes: 10 * MiB,
    });
    expect(disk).toMatchObject({ format: "raw", virtualSizeBytes: 10 * MiB, created: true });
    expect(disk.backingFile).toBeUndefined();
    expect(statSync(disk.path).size).toBe(10 * MiB);
    expect(await qemuImgInfo(exec, disk.path, "raw")).toMatchObject({ format: "raw" });
  });

  it("refuses to shrink below the base, and an existing disk built differently", async () => {
    const store = createDiskStore({ dir: join(root, "vms"), exec });
    await expect(
      store.prepare({
        vmId: "vm-d",
        diskId: "root",
        source: { kind: "overlay", base: qcowBase, baseFormat: "qcow2" },
        sizeBytes: 1 * MiB,
      }),
    ).rejects.toBeInstanceOf(DiskShrinkError);
    expect(existsSync(join(root, "vms", "vm-d", "root.qcow2.tmp"))).toBe(false);

    await store.prepare({
      vmId: "vm-d",
      diskId: "root",
      source: { kind: "overlay", base: qcowBase, baseFormat: "qcow2" },
    });
    await expect(
      store.prepare({
        vmId: "vm-d",
        diskId: "root",
        source: { kind: "overlay", base: rawBase, baseFormat: "raw" },
      }),
    ).rejects.toBeInstanceOf(DiskConflictError);
  });

  it("maps qemu-img's ENOSPC to DiskNoSpaceError and leaves no partial disk", async () => {
    // No tiny file system to fill here: a fake seam answers `convert` like a full disk would.
    const fullDisk: Exec = async (command, args, options) => {
      if (command === "qemu-img" && args[0] === "convert") {
        throw new CommandError(command, args, {
          exitCode: 1,
          signal: null,
          stdout: "",
          stderr: "qemu-img: error while writing at byte 0: No space left on device\n",
        });
      }
      return exec(command, args, options);
    };
    const store = createDiskStore({ dir: join(root, "vms"), exec: fullDisk });
    await expect(
      store.prepare({
        vmId: "vm-e",
        diskId: "root",
        source: { kind: "copy", base: rawBase, baseFormat: "raw" },
      }),
    ).rejects.toBeInstanceOf(DiskNoSpaceError);
    expect(readdirSync(join(root, "vms", "vm-e"))).toEqual([]);

    // The preflight catches it before qemu-img runs when statfs says there is no room.
    const noRoom = createDiskStore({ dir: join(root, "vms"), exec, freeBytes: async () => 0 });
    await expect(
      noRoom.prepare({
        vmId: "vm-e",
        diskId: "root",
        source: { kind: "copy", base: qcowBase, baseFormat: "qcow2" },
      }),
    ).rejects.toBeInstanceOf(DiskNoSpaceError);
  });

  it("removes a VM's disks; a VM without disks is fine", async () => {
    const store = createDiskStore({ dir: join(root, "vms"), exec });
    await store.prepare({
      vmId: "vm-f",
      diskId: "scratch",
      source: { kind: "blank", format: "qcow2" },
      sizeBytes: MiB,
    });
    await store.removeVm("vm-f");
    expect(existsSync(join(root, "vms", "vm-f"))).toBe(false);
    await store.removeVm("vm-f");
    expect(() => store.pathFor("../etc", "x", "raw")).toThrow(TypeError);
  });
});
