/**
 * Real `strato-agent` processes for the benches: enrolled through the REST API and the agent's own
 * `enroll` command, approved through the REST API, then `run` (as test/e2e/vm-lifecycle.test.ts
 * does), each with its own state directory and machine id. Also a loopback image server.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Api, apiClient, type ControlPlane, expectJson, type Tenant } from "./control-plane";
import { killGroup, killRunDirVmms, type Spawned, spawnRecorded, waitForOutput } from "./processes";

export const AGENT_BIN = fileURLToPath(new URL("../../agent/bin/strato-agent", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));

export type BenchAgent = {
  hostId: string;
  stateDir: string;
  env: Record<string, string>;
  /** The running `strato-agent run`, once started. */
  proc: Spawned | undefined;
};

/**
 * Enrolls `count` agents with one enrollment token (at most `parallel` enroll commands at once:
 * each is a Node start-up), then approves them all. They are not running yet.
 */
export async function enrollAgents(
  cp: ControlPlane,
  tenant: Tenant,
  options: {
    count: number;
    dir: string;
    env: Record<string, string>;
    parallel?: number;
    /** Where the agents reach the control plane (default: its own address). */
    url?: string;
  },
): Promise<BenchAgent[]> {
  const api = apiClient(cp.base, tenant.secret);
  const { secret } = await expectJson<{ secret: string }>(
    await api(`/api/v1/organizations/${tenant.orgId}/enrollment-tokens`, {
      method: "POST",
      json: { description: "bench", maxUses: options.count },
    }),
    201,
  );
  const agents: BenchAgent[] = [];
  const enrollOne = async (i: number): Promise<BenchAgent> => {
    const stateDir = join(options.dir, `agent-${i}`);
    const env = {
      ...options.env,
      STRATO_AGENT_MACHINE_ID: `bench-agent-${String(i).padStart(4, "0")}`,
      // The simulator boots anything; a real host names its firmware or kernel.
      STRATO_AGENT_KERNEL: join(stateDir, "vmlinux"),
    };
    const enroll = spawnRecorded(
      AGENT_BIN,
      ["enroll", "--url", options.url ?? cp.base, "--token", secret, "--state-dir", stateDir],
      { ...process.env, ...env },
    );
    const code = await enroll.exited;
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1];
    if (code !== 0 || !hostId) throw new Error(`enroll failed (${code}):\n${enroll.output()}`);
    return { hostId, stateDir, env, proc: undefined };
  };
  const parallel = options.parallel ?? 4;
  for (let i = 0; i < options.count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, options.count - i) }, (_, k) => i + k);
    agents.push(...(await Promise.all(batch.map(enrollOne))));
  }
  for (const agent of agents) {
    await expectJson(await api(`/api/v1/hosts/${agent.hostId}/approve`, { method: "POST" }));
  }
  return agents;
}

/** Starts `strato-agent run` for each agent and waits until each has seen its approval. */
export async function startAgents(
  agents: BenchAgent[],
  extraEnv: Record<string, string> = {},
): Promise<void> {
  for (const agent of agents) {
    agent.proc = spawnRecorded(AGENT_BIN, ["run", "--state-dir", agent.stateDir], {
      ...process.env,
      ...agent.env,
      ...extraEnv,
    });
  }
  for (const agent of agents) {
    if (agent.proc) await waitForOutput(agent.proc, "host approved", 120_000);
  }
}

/**
 * Starts every agent in one Node process (bench/lib/agent-swarm.ts: the real agent code, one
 * runtime per host) and waits until each has seen its approval. Settings shared by all come from
 * the first agent's environment and `extraEnv`.
 */
export async function startSwarm(
  agents: BenchAgent[],
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const [first] = agents;
  if (!first) return;
  const proc = spawnRecorded(
    join(REPO, "node_modules/.bin/node"),
    [
      "--disable-warning=ExperimentalWarning",
      "--import",
      join(REPO, "node_modules/tsx/dist/loader.mjs"),
      join(REPO, "bench/lib/agent-swarm.ts"),
      ...agents.map((a) => a.stateDir),
    ],
    { ...process.env, ...first.env, ...extraEnv },
  );
  for (const agent of agents) agent.proc = proc;
  const deadline = Date.now() + 60_000 + agents.length * 2_000;
  for (;;) {
    const approved = proc.output().match(/"msg":"host approved"/g)?.length ?? 0;
    if (approved >= agents.length) return;
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `swarm: ${approved}/${agents.length} approved:\n${proc.output().slice(-4000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills the agents' process groups and every VMM they left behind; waits for the exits. */
export async function stopAgents(agents: BenchAgent[]): Promise<number> {
  let vmms = 0;
  for (const proc of new Set(agents.map((a) => a.proc))) {
    if (!proc) continue;
    killGroup(proc);
    await proc.exited;
  }
  for (const agent of agents) {
    agent.proc = undefined;
    vmms += killRunDirVmms(join(agent.stateDir, "run"));
  }
  return vmms;
}

/** Polls the REST API until the host has reported its status (placement needs its capacity). */
export async function waitForHostReport(api: Api, hostId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const host = await expectJson<{ health: string }>(await api(`/api/v1/hosts/${hostId}`));
    if (host.health === "healthy" || host.health === "warning") return;
    if (Date.now() > deadline) throw new Error(`host ${hostId} never reported: ${host.health}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A loopback server for image files (the agent downloads and verifies the image it boots). */
export class ImageServer {
  readonly #files = new Map<string, Buffer>();
  #server: Server | undefined;
  #base = "";

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const file = this.#files.get(req.url ?? "");
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-length": file.length }).end(file);
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Makes a small qcow2 image with qemu-img and serves it; its URL and SHA-256. */
  qcow2(dir: string, name: string, sizeBytes: number): { url: string; sha256: string } {
    const path = join(dir, name);
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", path, String(sizeBytes)]);
    const data = readFileSync(path);
    this.#files.set(`/${name}`, data);
    return {
      url: `${this.#base}/${name}`,
      sha256: createHash("sha256").update(data).digest("hex"),
    };
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
