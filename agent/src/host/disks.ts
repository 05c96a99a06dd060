import { mkdir, rename, rm, stat, statfs } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CommandError, type Exec } from "./exec";
import { assertSafeName } from "./names";

export type DiskFormat = "raw" | "qcow2";

/**
 * Where a VM disk's content comes from. The base's format is always stated, never probed: a
 * "raw" image whose bytes look like qcow2 must not get to name a host file as its backing file.
 */
export type DiskSource =
  | { kind: "overlay"; base: string; baseFormat: DiskFormat }
  | { kind: "copy"; base: string; baseFormat: DiskFormat }
  | { kind: "blank"; format: DiskFormat };

export type DiskRequest = {
  vmId: string;
  diskId: string;
  source: DiskSource;
  /** Grow to this size; omitted keeps the base's size (required for `blank`). */
  sizeBytes?: number;
};

export type VmDisk = {
  path: string;
  /** What to tell Cloud Hypervisor as `image_type` (never left to autodetection). */
  format: DiskFormat;
  virtualSizeBytes: number;
  /** Absolute path of the base, for overlays: CH needs `backing_files: true`. */
  backingFile?: string;
  /** False when a matching disk already existed (a re-delivered `vm.create`). */
  created: boolean;
};

/** The subset of `qemu-img info --output=json` the agent reads. */
export type QemuImageInfo = {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes?: number;
  backingFile?: string;
  backingFormat?: string;
};

export class DiskError extends Error {
  override name = "DiskError";
}

/** The file system holding the disks ran out of space (ENOSPC from qemu-img or a preflight). */
export class DiskNoSpaceError extends DiskError {
  override name = "DiskNoSpaceError";
}

/** A disk with this id exists but was built differently (format or base); it is left alone. */
export class DiskConflictError extends DiskError {
  override name = "DiskConflictError";
}

/** The requested size is below the base's size; disks are only ever grown. */
export class DiskShrinkError extends DiskError {
  override name = "DiskShrinkError";
}

export type DiskStoreOptions = {
  /** Disks live in `<dir>/<vmId>/<diskId>.<raw|qcow2>`. */
  dir: string;
  exec: Exec;
  /** For `qemu-img convert` of a whole image (default 30 min). */
  copyTimeoutMs?: number;
  /** Free bytes of the file system holding `dir` (default: statfs). */
  freeBytes?: (dir: string) => Promise<number>;
};

export type DiskStore = {
  pathFor(vmId: string, diskId: string, format: DiskFormat): string;
  /** Creates the disk if missing, grows it if smaller than asked; idempotent. */
  prepare(request: DiskRequest): Promise<VmDisk>;
  info(path: string, format?: DiskFormat): Promise<QemuImageInfo>;
  /** Removes all of a VM's disks; a VM without disks is fine. */
  removeVm(vmId: string): Promise<void>;
};

export function createDiskStore(options: DiskStoreOptions): DiskStore {
  const { exec } = options;
  const copyTimeoutMs = options.copyTimeoutMs ?? 30 * 60_000;
  const freeBytes =
    options.freeBytes ??
    (async (dir: string) => {
      const fs = await statfs(dir);
      return fs.bavail * fs.bsize;
    });

  const vmDir = (vmId: string) => join(options.dir, assertSafeName("vm id", vmId));
  const pathFor = (vmId: string, diskId: string, format: DiskFormat) =>
    join(vmDir(vmId), `${assertSafeName("disk id", diskId)}.${format}`);

  const info = (path: string, format?: DiskFormat) => qemuImgInfo(exec, path, format);

  async function qemuImg(args: string[], timeoutMs?: number): Promise<void> {
    try {
      await exec("qemu-img", args, timeoutMs !== undefined ? { timeoutMs } : {});
    } catch (error) {
      if (error instanceof CommandError && /no space left on device/i.test(error.stderr)) {
        throw new DiskNoSpaceError(`qemu-img ${args[0]}: no space left on device`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async function checkBase(source: { base: string; baseFormat: DiskFormat }) {
    const base = await info(source.base, source.baseFormat);
    // A base with its own backing file would make the VM's disk read another host file.
    if (base.backingFile !== undefined) {
      throw new DiskError(`base image ${source.base} has a backing file; refusing to use it`);
    }
    return base;
  }

  async function build(request: DiskRequest, format: DiskFormat, tmp: string): Promise<void> {
    const { source } = request;
    if (source.kind === "blank") {
      if (request.sizeBytes === undefined) throw new DiskError("a blank disk needs sizeBytes");
      await qemuImg(["create", "-q", "-f", format, tmp, String(request.sizeBytes)]);
      return;
    }
    const base = await checkBase(source);
    if (request.sizeBytes !== undefined && request.sizeBytes < base.virtualSizeBytes) {
      throw new DiskShrinkError(
        `disk ${request.diskId}: ${request.sizeBytes} bytes is smaller than the base (${base.virtualSizeBytes})`,
      );
    }
    if (source.kind === "overlay") {
      const backing = resolve(source.base);
      await qemuImg(["create", "-q", "-f", "qcow2", "-F", source.baseFormat, "-b", backing, tmp]);
    } else {
      // Raw is sparse, so the base's allocated bytes are what the copy needs at least.
      const needed = base.actualSizeBytes ?? 0;
      const free = await freeBytes(vmDir(request.vmId));
      if (needed > free) {
        throw new DiskNoSpaceError(
          `disk ${request.diskId}: copy needs ${needed} bytes, ${free} free in ${options.dir}`,
        );
      }
      await qemuImg(
        ["convert", "-q", "-f", source.baseFormat, "-O", "raw", source.base, tmp],
        copyTimeoutMs,
      );
    }
    if (request.sizeBytes !== undefined && request.sizeBytes > base.virtualSizeBytes) {
      await qemuImg(["resize", "-q", "-f", format, tmp, String(request.sizeBytes)]);
    }
  }

  async function prepare(request: DiskRequest): Promise<VmDisk> {
    const format: DiskFormat =
      request.source.kind === "overlay"
        ? "qcow2"
        : request.source.kind === "copy"
          ? "raw"
          : request.source.format;
    const path = pathFor(request.vmId, request.diskId, format);
    const backingFile =
      request.source.kind === "overlay" ? resolve(request.source.base) : undefined;
    let created = false;

    if (!(await exists(path))) {
      await mkdir(vmDir(request.vmId), { recursive: true });
      // Built under a temporary name and renamed: a crash never leaves a half-made disk in place.
      const tmp = `${path}.tmp`;
      await rm(tmp, { force: true });
      try {
        await build(request, format, tmp);
        await rename(tmp, path);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
      created = true;
    }

    let current = await info(path, format);
    if (current.format !== format) {
      throw new DiskConflictError(`disk ${path} is ${current.format}, expected ${format}`);
    }
    const baseFormat = request.source.kind === "overlay" ? request.source.baseFormat : undefined;
    if (
      backingFile !== undefined &&
      (current.backingFile !== backingFile || current.backingFormat !== baseFormat)
    ) {
      throw new DiskConflictError(
        `disk ${path} is backed by ${current.backingFile ?? "nothing"} (${current.backingFormat ?? "-"}), expected ${backingFile} (${baseFormat})`,
      );
    }
    // An existing disk smaller than asked (e.g. an interrupted grow) converges; a larger one stays.
    if (request.sizeBytes !== undefined && current.virtualSizeBytes < request.sizeBytes) {
      await qemuImg(["resize", "-q", "-f", format, path, String(request.sizeBytes)]);
      current = await info(path, format);
    }
    return {
      path,
      format,
      virtualSizeBytes: current.virtualSizeBytes,
      ...(backingFile !== undefined ? { backingFile } : {}),
      created,
    };
  }

  return {
    pathFor,
    prepare,
    info,
    async removeVm(vmId) {
      await rm(vmDir(vmId), { recursive: true, force: true });
    },
  };
}

/**
 * `qemu-img info --output=json`, with `-U` so a disk a running VMM holds locked can still be read,
 * and with `-f` when the format is known so nothing is probed.
 */
export async function qemuImgInfo(
  exec: Exec,
  path: string,
  format?: DiskFormat,
): Promise<QemuImageInfo> {
  const args = ["info", "-U", "--output=json", ...(format ? ["-f", format] : []), path];
  const { stdout } = await exec("qemu-img", args);
  const raw: unknown = JSON.parse(stdout);
  if (typeof raw !== "object" || raw === null)
    throw new DiskError(`qemu-img info ${path}: not an object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.format !== "string" || typeof o["virtual-size"] !== "number") {
    throw new DiskError(`qemu-img info ${path}: no format or virtual-size`);
  }
  const backing = o["full-backing-filename"] ?? o["backing-filename"];
  return {
    format: o.format,
    virtualSizeBytes: o["virtual-size"],
    ...(typeof o["actual-size"] === "number" ? { actualSizeBytes: o["actual-size"] } : {}),
    ...(typeof backing === "string" ? { backingFile: backing } : {}),
    ...(typeof o["backing-filename-format"] === "string"
      ? { backingFormat: o["backing-filename-format"] }
      : {}),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
