import { execFile } from "node:child_process";
import { existsSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HostFacts } from "../../src/protocol/agent-api";

export const AGENT_VERSION = "0.1.0";

/** /etc/machine-id, or one generated once and kept in the state directory. */
export function machineId(stateDir: string, override?: string): string {
  if (override) return override;
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      const id = readFileSync(path, "utf8").trim();
      if (/^[0-9a-f]{32}$/.test(id)) return id;
    } catch {
      // Not there; try the next.
    }
  }
  const own = join(stateDir, "machine-id");
  if (existsSync(own)) return readFileSync(own, "utf8").trim();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const id = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  writeFileSync(own, `${id}\n`, { mode: 0o644 });
  return id;
}

/** `cloud-hypervisor --version` when a binary is configured (no shell involved). */
async function chVersion(binary: string | undefined): Promise<string | undefined> {
  if (!binary) return undefined;
  try {
    const { stdout } = await promisify(execFile)(binary, ["--version"], { timeout: 5_000 });
    return stdout.trim().split(/\s+/).pop()?.slice(0, 64);
  } catch {
    return undefined;
  }
}

export async function collectFacts(options: {
  stateDir: string;
  machineId?: string | undefined;
  chBinary?: string | undefined;
}): Promise<HostFacts> {
  const disk = statfsSync(options.stateDir);
  const ch = await chVersion(options.chBinary);
  return {
    hostname: hostname().slice(0, 253) || "unknown",
    machine_id: machineId(options.stateDir, options.machineId),
    cpus: Math.max(1, cpus().length),
    memory_bytes: totalmem(),
    disk_bytes: Number(disk.blocks) * Number(disk.bsize),
    kernel: release() || "unknown",
    kvm: existsSync("/dev/kvm"),
    agent_version: AGENT_VERSION,
    arch: arch(),
    ...(ch ? { ch_version: ch } : {}),
  };
}
