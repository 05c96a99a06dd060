import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What the driver records about the VMM it started, to find it again after an agent restart. */
export type VmmRecord = { pid: number; startedAt: number; binary: string };

const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The files of one VM under `<root>/<vmId>/`. Keep `root` short: a Unix socket path has a limit
 * of about 107 bytes.
 */
export class RunDir {
  readonly dir: string;

  constructor(root: string, vmId: string) {
    if (!VM_ID.test(vmId)) throw new Error(`invalid VM id for a run directory: ${vmId}`);
    this.dir = join(root, vmId);
  }

  get socket() {
    return join(this.dir, "api.sock");
  }
  get eventFile() {
    return join(this.dir, "events.json");
  }
  get logFile() {
    return join(this.dir, "vmm.log");
  }
  get stdioFile() {
    return join(this.dir, "vmm.out");
  }
  get serialLog() {
    return join(this.dir, "serial.log");
  }
  get #vmmFile() {
    return join(this.dir, "vmm.json");
  }
  get #configFile() {
    return join(this.dir, "config.json");
  }
  get #offsetFile() {
    return join(this.dir, "events.offset");
  }

  exists(): boolean {
    return existsSync(this.dir);
  }

  async create(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  async readVmm(): Promise<VmmRecord | undefined> {
    return readJson<VmmRecord>(this.#vmmFile);
  }
  writeVmm(record: VmmRecord): Promise<void> {
    return writeAtomic(this.#vmmFile, JSON.stringify(record));
  }

  /** The `VmConfig` last sent to `vm.create`, to re-create the VM in a new VMM. */
  readConfig(): Promise<Record<string, unknown> | undefined> {
    return readJson<Record<string, unknown>>(this.#configFile);
  }
  writeConfig(config: Record<string, unknown>): Promise<void> {
    return writeAtomic(this.#configFile, JSON.stringify(config));
  }

  async readOffset(): Promise<number> {
    return (await readJson<number>(this.#offsetFile)) ?? 0;
  }
  writeOffset(offset: number): Promise<void> {
    return writeAtomic(this.#offsetFile, String(offset));
  }
}

export async function listVmIds(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && VM_ID.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Write-then-rename, so a crash mid-write never leaves half a file. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}
