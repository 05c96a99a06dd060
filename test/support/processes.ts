import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/** A port that was free a moment ago (the OS picks it), for servers a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type Spawned = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** Spawns a command in its own process group and records everything it prints. */
export function spawnRecorded(command: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return { child, output: () => text, exited };
}

/** Resolves when the output contains `text`; rejects on exit or timeout with the output so far. */
export async function waitForOutput(p: Spawned, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.output().includes(text)) {
    if (p.child.exitCode !== null) throw new Error(`exited early:\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}":\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Signals the whole process group, as a terminal does for Ctrl-C. */
export function signalGroup(p: Spawned, signal: NodeJS.Signals): void {
  if (p.child.pid !== undefined) process.kill(-p.child.pid, signal);
}

/** Resolves once no process of the group is left (the dev runner and all it started). */
export async function waitForGroupExit(p: Spawned, timeoutMs: number): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`process group ${pid} still running:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills a spawned process group for good (cleanup after a failed test). */
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
 * Stops a process group as an operator would: SIGTERM, then SIGKILL after `graceMs`. The grace
 * matters for the dev runner, which stops wrangler's own process group on SIGTERM; a SIGKILL
 * would leave wrangler and workerd running (and rebuilding on every source change).
 */
export async function stopGroup(p: Spawned, graceMs = 8_000): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return; // Nothing left of the group.
  }
  try {
    await waitForGroupExit(p, graceMs);
  } catch {
    try {
      process.kill(-pid, "SIGKILL"); // even when the leader is gone and members are left
    } catch {
      // Gone meanwhile.
    }
  }
}

/**
 * A temp data directory and a spawner for one describe block: everything spawned through it is
 * killed, and the directory removed, after the block's tests.
 */
export function processSandbox(prefix: string) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const running: Spawned[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => stopGroup(p)));
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);
  return {
    dataDir,
    spawn(command: string, args: string[], env: Record<string, string>): Spawned {
      const p = spawnRecorded(command, args, { ...process.env, ...env });
      running.push(p);
      return p;
    },
  };
}
