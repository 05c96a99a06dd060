import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { HypervisorClock } from "../hypervisor";
import { VmmStartError } from "./errors";
import type { RunDir } from "./run-dir";

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

export type SpawnOptions = {
  binary: string;
  runDir: RunDir;
  noShutdown: boolean;
  extraArgs: string[];
  env: Record<string, string>;
};

/**
 * Starts one detached `cloud-hypervisor` (own session, stdio to a file) so it survives the agent;
 * no VM flags, the VM comes over the API (notes §d).
 */
export function spawnVmm(options: SpawnOptions): { pid: number; exited: Promise<ExitInfo> } {
  const { runDir } = options;
  const args = [
    "--api-socket",
    `path=${runDir.socket}`,
    "--event-monitor",
    `path=${runDir.eventFile}`,
    "--log-file",
    runDir.logFile,
    "-v",
    ...(options.noShutdown ? ["--no-shutdown"] : []),
    ...options.extraArgs,
  ];
  const out = openSync(runDir.stdioFile, "a", 0o600);
  try {
    const child = spawn(options.binary, args, {
      detached: true,
      stdio: ["ignore", out, out],
      // Only PATH is inherited: the VMM needs nothing else, and the agent's secrets stay out.
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...options.env },
    });
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new VmmStartError(`cannot start ${options.binary}`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(out);
  }
}

/** True if `pid` runs and (when known) is the VMM serving `socket`, guarding against pid reuse. */
export function isVmmAlive(pid: number, socket?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
  if (socket === undefined) return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmdline === "") return false; // a zombie waiting to be reaped
    return cmdline.includes(socket);
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Waits until the process is gone or `timeoutMs` passes; true if it is gone. */
export async function waitForExit(
  pid: number,
  socket: string | undefined,
  timeoutMs: number,
  clock: HypervisorClock,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (isVmmAlive(pid, socket)) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(20);
  }
  return true;
}
