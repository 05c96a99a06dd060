import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { createExec } from "../../agent/src/host/exec";
import type { OpResult } from "../../agent/src/ops";
import { killRunDirVmms } from "../hypervisor/support";
import { killGroup, type Spawned, spawnRecorded } from "../support/processes";
import { envPaths, type OpsEnv, type OpsEnvConfig, openOpsEnv } from "./fixtures/env";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** A loopback server for image files (no outside network in tests). */
export class ImageServer {
  readonly files = new Map<string, Buffer>();
  /** Paths answered with headers and one byte, then nothing (a stalled download). */
  readonly stalled = new Set<string>();
  hits = 0;
  #server: Server | undefined;
  #base = "";

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      this.hits++;
      if (this.stalled.has(req.url ?? "")) {
        res.writeHead(200, { "content-length": 1 << 30 });
        res.write(Buffer.alloc(1));
        return;
      }
      const file = this.files.get(req.url ?? "");
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-length": file.length }).end(file);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#base = `http://127.0.0.1:${port}`;
  }

  url(path: string): string {
    return `${this.#base}${path}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

export type TestImage = { path: string; url: string; sha256: string; format: "qcow2" | "raw" };

/** Makes a small image with qemu-img and serves it. */
export async function makeImage(
  server: ImageServer,
  dir: string,
  name: string,
  format: "qcow2" | "raw",
  sizeBytes: number,
): Promise<TestImage> {
  const path = join(dir, name);
  await createExec()("qemu-img", ["create", "-q", "-f", format, path, String(sizeBytes)]);
  const data = readFileSync(path);
  server.files.set(`/${name}`, data);
  return {
    path,
    url: server.url(`/${name}`),
    sha256: createHash("sha256").update(data).digest("hex"),
    format,
  };
}

export function createParams(image: TestImage, overrides: Record<string, unknown> = {}) {
  return {
    name: "web-1",
    vcpus: 1,
    memoryMb: 512,
    diskGb: 1,
    image: { id: "img_test", url: image.url, sha256: image.sha256, format: image.format },
    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTests test@strato"],
    userData: "#cloud-config\npackages: [htop]\n",
    ...overrides,
  };
}

/**
 * A temp root (short, for socket paths) whose VMMs, runner processes and files are all gone
 * after the block; `openEnv` gives in-process "agents" over it, closed after the block too.
 */
export function opsSandbox(prefix: string) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const envs: OpsEnv[] = [];
  const runners: Spawned[] = [];
  afterAll(async () => {
    for (const p of runners) killGroup(p);
    for (const env of envs) await env.close().catch(() => undefined);
    killRunDirVmms(envPaths(root).runRoot);
    rmSync(root, { recursive: true, force: true });
  });
  return {
    root,
    paths: envPaths(root),
    config: (extra: Partial<OpsEnvConfig> = {}): OpsEnvConfig => ({ root, ...extra }),
    async openEnv(...args: Parameters<typeof openOpsEnv>): Promise<OpsEnv> {
      const env = await openOpsEnv(...args);
      envs.push(env);
      return env;
    },
    /** Starts the runner (the stand-in agent) for one op in its own process group. */
    runOp(job: {
      config: OpsEnvConfig;
      op: string;
      vmId: string;
      params: unknown;
      idem?: string;
    }): Runner {
      const p = spawnRecorded(
        process.execPath,
        ["--import", TSX_LOADER, RUNNER, JSON.stringify(job)],
        process.env,
      );
      runners.push(p);
      return runner(p);
    },
  };
}

const TSX_LOADER = fileURLToPath(
  new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url),
);
const RUNNER = fileURLToPath(new URL("./fixtures/run-op.ts", import.meta.url));

export type Runner = {
  proc: Spawned;
  /** Resolves once the runner logged a line with this `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
  /** Waits for the end; the one `RESULT` or `ERROR` line it printed. */
  finish(timeoutMs?: number): Promise<{ result?: OpResult; error?: Record<string, unknown> }>;
  lines(): Record<string, unknown>[];
};

function runner(p: Spawned): Runner {
  const lines = () =>
    p
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc: p,
    lines,
    async waitForLog(msg, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!lines().some((l) => l.msg === msg)) {
        if (p.child.exitCode !== null) throw new Error(`runner exited early:\n${p.output()}`);
        if (Date.now() > deadline) throw new Error(`no log "${msg}":\n${p.output()}`);
        await sleep(20);
      }
    },
    async kill() {
      killGroup(p);
      await p.exited;
    },
    async finish(timeoutMs = 40_000) {
      const code = await Promise.race([p.exited, sleep(timeoutMs).then(() => "timeout" as const)]);
      if (code === "timeout") throw new Error(`runner did not finish:\n${p.output()}`);
      const ends = p
        .output()
        .split("\n")
        .filter((l) => l.startsWith("RESULT ") || l.startsWith("ERROR "));
      if (ends.length !== 1) throw new Error(`expected one result line:\n${p.output()}`);
      const [end = ""] = ends;
      const body = JSON.parse(end.slice(end.indexOf(" ") + 1)) as Record<string, unknown>;
      return end.startsWith("RESULT ") ? { result: body as OpResult } : { error: body };
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Live processes whose command line mentions `text` (a VM's run directory → its VMMs). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Zombies (state Z) are dead already.
      if (cmdline.includes(text) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The VMM processes of one VM (their `--api-socket` names its run directory). */
export function vmmsOf(runRoot: string, vmId: string): number[] {
  return processesMentioning(`${join(runRoot, vmId)}/api.sock`);
}

export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
