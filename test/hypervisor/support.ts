import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll } from "vitest";
import { SIMULATOR_BIN } from "../../agent/src/hypervisor/binary";
import type { HypervisorClock, VmSpec } from "../../agent/src/hypervisor/hypervisor";
import { killGroup, processSandbox, type Spawned } from "../support/processes";

export const SIM_BIN = SIMULATOR_BIN;

/**
 * A temp directory for simulators and driver run directories. Every VMM a driver started below it
 * (found through the run directories' `vmm.json`) is killed after the block, then the directory
 * goes; processes spawned through `spawn` are killed by processSandbox.
 */
export function simSandbox(prefix: string) {
  const sandbox = processSandbox(prefix);
  const runRoot = join(sandbox.dataDir, "run");
  // Registered after processSandbox's hook, so it runs first (hooks unwind as a stack).
  afterAll(() => {
    killRunDirVmms(runRoot);
    rmSync(sandbox.dataDir, { recursive: true, force: true });
  });
  return { ...sandbox, runRoot };
}

/**
 * Kills every VMM started under `runRoot`: those its `vmm.json` names, and any whose command line
 * names a path below it (one spawned just before its record was written).
 */
export function killRunDirVmms(runRoot: string): void {
  if (!existsSync(runRoot)) return;
  const pids = new Set<number>();
  for (const id of readdirSync(runRoot)) {
    try {
      const { pid } = JSON.parse(readFileSync(join(runRoot, id, "vmm.json"), "utf8")) as {
        pid: number;
      };
      pids.add(pid);
    } catch {
      // No record (yet).
    }
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`${runRoot}/`)) {
        pids.add(Number(entry));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Stops an agent for good, then the VMMs it started: a live agent could start one again. */
export async function stopAgentAndVmms(agent: Spawned | undefined, runRoot: string): Promise<void> {
  if (agent) {
    killGroup(agent);
    await agent.exited;
  }
  killRunDirVmms(runRoot);
}

/** Starts a simulator on `<dir>/<name>.sock` and waits until its socket accepts connections. */
export async function startSim(
  sandbox: ReturnType<typeof simSandbox>,
  name: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<{ proc: Spawned; socket: string; events: string }> {
  const socket = join(sandbox.dataDir, `${name}.sock`);
  const events = join(sandbox.dataDir, `${name}.events`);
  const proc = sandbox.spawn(
    SIM_BIN,
    [
      "--api-socket",
      `path=${socket}`,
      "--event-monitor",
      `path=${events}`,
      ...(options.args ?? []),
    ],
    options.env ?? {},
  );
  await waitForSocket(socket, proc, 10_000);
  return { proc, socket, events };
}

export async function waitForSocket(socket: string, proc: Spawned, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`simulator exited:\n${proc.output()}`);
    const ok = await new Promise<boolean>((done) => {
      const s = connect(socket);
      s.once("connect", () => {
        s.destroy();
        done(true);
      });
      s.once("error", () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no socket ${socket}:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type RawResponse = {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: string;
};

/**
 * Sends raw bytes on a fresh connection and reads one response (by Content-Length, or up to the
 * headers when there is none, as ch-remote does).
 */
export function rawRequest(socket: string, bytes: string, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    const s = connect(socket);
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete response; got ${JSON.stringify(data.toString())}`));
    }, timeoutMs);
    const tryParse = () => {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine = "", ...lines] = data.subarray(0, end).toString().split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (data.length < end + 4 + length) return;
      clearTimeout(timer);
      s.destroy();
      resolvePromise({
        statusLine,
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: data.subarray(end + 4, end + 4 + length).toString(),
      });
    };
    s.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse();
    });
    s.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    s.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`connection closed; got ${JSON.stringify(data.toString())}`));
    });
    s.on("connect", () => s.write(bytes));
  });
}

/** A request as ch-remote writes it: no Content-Type, Content-Length only with a body. */
export function chRemote(method: string, endpoint: string, body?: string): string {
  const head = `${method} /api/v1/${endpoint} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n`;
  return body === undefined
    ? `${head}\r\n`
    : `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Splits an event file like upstream's parse_event_file. */
export function parseEventFile(
  path: string,
): Array<{ source: string; event: string; properties: unknown }> {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n\n")
    .filter((chunk) => chunk.trim() !== "")
    .map((chunk) => JSON.parse(chunk) as { source: string; event: string; properties: unknown });
}

export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A VM spec in the shape of the notes' minimal body; the files need not exist for the simulator. */
export function vmSpec(dir: string, overrides: Partial<VmSpec> = {}): VmSpec {
  return {
    vcpus: 2,
    memoryBytes: 1024 * 1024 * 1024,
    memoryHotplugBytes: 1024 * 1024 * 1024,
    boot: {
      kind: "kernel",
      kernel: join(dir, "vmlinux"),
      cmdline: "console=ttyS0 root=/dev/vda1 rw",
    },
    disks: [
      { id: "root", path: join(dir, "root.raw"), format: "raw" },
      { id: "seed", path: join(dir, "seed.img"), format: "raw", readonly: true },
    ],
    nics: [{ id: "nic0", tap: "tap-test0", mac: "52:54:00:12:34:56" }],
    platform: { uuid: "6f1c2c8e-0d3a-4b8e-9a55-0c2b1f9e7d11", oemStrings: ["vm=test"] },
    ...overrides,
  };
}

/** A clock whose sleeps pass instantly in virtual time (with a real yield so I/O progresses). */
export function virtualClock(): HypervisorClock & { advanced: () => number } {
  let now = 1_000_000;
  let advanced = 0;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      advanced += ms;
      await new Promise((r) => setImmediate(r));
    },
    advanced: () => advanced,
  };
}
