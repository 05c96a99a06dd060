/**
 * Child processes for the benches (the agent, its VMMs): the few helpers of test/support/processes
 * and test/hypervisor/support without vitest, whose hooks only work inside a test run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Spawned = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** Output kept per process: enough for the lines a bench waits for and an error report. */
const KEEP_CHARS = 256 * 1024;

/** Spawns a command in its own process group and records (the tail of) what it prints. */
export function spawnRecorded(command: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let text = "";
  const record = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > 2 * KEEP_CHARS) text = text.slice(-KEEP_CHARS);
  };
  child.stdout?.on("data", record);
  child.stderr?.on("data", record);
  // "close", not "exit": output still in the pipes when the process ends has been read by then.
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => resolve(code)),
  );
  return { child, output: () => text, exited };
}

/** Resolves when the output contains `text`; rejects on exit or timeout with the output so far. */
export async function waitForOutput(p: Spawned, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.output().includes(text)) {
    if (p.child.exitCode !== null) throw new Error(`exited early:\n${p.output().slice(-4000)}`);
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for "${text}":\n${p.output().slice(-4000)}`);
    }
    await sleep(50);
  }
}

/** Kills a spawned process group (the process and whatever it started in its group). */
export function killGroup(p: Spawned): void {
  if (p.child.pid !== undefined && p.child.exitCode === null) {
    try {
      process.kill(-p.child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Kills every VMM an agent started below `runRoot` (each run directory's `vmm.json` names its
 * pid): VMMs run in their own process group, so killing the agent leaves them behind.
 */
export function killRunDirVmms(runRoot: string): number {
  if (!existsSync(runRoot)) return 0;
  let killed = 0;
  for (const id of readdirSync(runRoot)) {
    try {
      const { pid } = JSON.parse(readFileSync(join(runRoot, id, "vmm.json"), "utf8")) as {
        pid: number;
      };
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // No record or already gone.
    }
  }
  return killed;
}

/** Resident set size of a process in MiB (VmRSS from /proc), or NaN once it is gone. */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return Number.NaN;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
