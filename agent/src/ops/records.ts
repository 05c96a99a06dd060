import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurably } from "../host/durable-file";
import type { Observed } from "./types";

/**
 * What the agent remembers about a VM it was asked to create, in `<stateDir>/vms/<vmId>/vm.json`
 * (mode 0600: it holds the user-data). The hypervisor's run directory may vanish (a host reboot
 * empties /run); from this record the VM can be defined again.
 */
export type VmRecord = {
  version: 1;
  vmId: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  image: { id: string; url: string; sha256: string; format: "qcow2" | "raw"; sizeBytes?: number };
  sshKeys: string[];
  userData: string;
  /**
   * `provisioning` until `vm.create` saw the VM running once; `deleting` once `vm.delete` began.
   * A re-delivered create of a provisioned VM only reports.
   */
  phase: "provisioning" | "provisioned" | "deleting";
  /** The last op that failed for good, so the inventory can say `error`. */
  lastError?: { op: string; code: string; message: string; at: number };
  /** Non-idempotent ops (restart) done, by the item's idem key; the newest few are kept. */
  completed?: { idem: string; op: string; at: number; observed: Observed }[];
  createdAt: number;
  updatedAt: number;
};

const KEEP_COMPLETED = 20;

export class VmRecords {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, "vms");
  }

  dir(vmId: string): string {
    return join(this.root, vmId);
  }

  seedPath(vmId: string): string {
    return join(this.dir(vmId), "seed.img");
  }

  seedDigestPath(vmId: string): string {
    return join(this.dir(vmId), "seed.sha256");
  }

  async read(vmId: string): Promise<VmRecord | undefined> {
    try {
      const value: unknown = JSON.parse(await readFile(join(this.dir(vmId), "vm.json"), "utf8"));
      if (typeof value === "object" && value !== null && (value as VmRecord).version === 1)
        return value as VmRecord;
    } catch {
      // Missing or unreadable: no record.
    }
    return undefined;
  }

  /** Written beside and renamed: a crash never leaves half a record. */
  async write(record: VmRecord): Promise<void> {
    const dir = this.dir(record.vmId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const completed = record.completed?.slice(-KEEP_COMPLETED);
    // Durably: an empty record after a power loss would read as "no such VM".
    await writeFileDurably(
      join(dir, "vm.json"),
      JSON.stringify({ ...record, ...(completed ? { completed } : {}) }),
    );
  }

  async remove(vmId: string): Promise<void> {
    await rm(this.dir(vmId), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }
}
