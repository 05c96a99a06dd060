import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { and, asc, eq } from "drizzle-orm";
import { images, memberships, organizations } from "../../db/schema";
import type { Deps } from "../../deps";
import type { ServiceContext } from "../../domain/context";
import { createEnrollmentToken } from "../../domain/hosts/create-enrollment-token";
import { decideHost } from "../../domain/hosts/transition";
import { createImage } from "../../domain/images/images";

const AGENT_BIN = fileURLToPath(new URL("../../../agent/bin/strato-agent", import.meta.url));

export type LocalAgentOptions = {
  deps: Deps;
  /** The control plane's URL as the agent reaches it. */
  url: string;
  dataDir: string;
  /** Port of the loopback server for the demo image. */
  imagePort: number;
  /** The agent's environment (PATH and friends), passed in by the dev runner. */
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
};

export type LocalAgent = { stop(): Promise<void> };

const DEMO_IMAGE = "demo-local";

/**
 * The development host: once the first organization exists (the set-up flow creates it), enrolls
 * `strato-agent` into it with a one-use token, approves it (development only: an operator approves
 * real hosts), adds a small demo image served from loopback, and keeps the agent running. VMs run
 * in the Cloud Hypervisor simulator unless this machine has `cloud-hypervisor` and /dev/kvm.
 */
export async function startLocalAgent(options: LocalAgentOptions): Promise<LocalAgent> {
  const stateDir = join(options.dataDir, "agent");
  const imageServer = await serveDemoImage(options.dataDir, options.imagePort);
  let child: ChildProcess | undefined;
  let stopped = false;
  const system: ServiceContext = {
    deps: options.deps,
    actor: { kind: "system" },
    requestId: "dev-local-agent",
  };

  const run = () => {
    if (stopped) return;
    child = spawnAgent(options.env, ["run", "--state-dir", stateDir]);
    child.once("exit", (code) => {
      if (stopped) return;
      if (code === 3) {
        // Revoked, rejected or disabled in the console: restarting would only be refused again.
        options.log("local agent: this host may no longer work (revoked, rejected or disabled)");
        return;
      }
      options.log(`local agent exited (${code}); restarting in 2 s`);
      setTimeout(run, 2_000);
    });
  };

  const enroll = async (): Promise<void> => {
    const orgId = await firstOrganization(options.deps, () => stopped);
    if (orgId === undefined) return;
    const { secret } = await createEnrollmentToken(system, {
      orgId,
      description: "npm run dev: local agent",
      scope: "local",
      maxUses: 1,
    });
    const enrolling = spawnAgent(
      options.env,
      // --force: state from before trust roots were pinned is enrolled again.
      ["enroll", "--url", options.url, "--token", secret, "--state-dir", stateDir, "--force"],
      "pipe",
    );
    let out = "";
    enrolling.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
    });
    const code = await new Promise<number | null>((r) => enrolling.once("exit", r));
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(out)?.[1];
    if (code !== 0 || !hostId) throw new Error(`strato-agent enroll failed (${code})`);
    await decideHost(system, hostId, "approve");
    await addDemoImage(options.deps, orgId, imageServer.url, imageServer.sha256);
    options.log(`local agent: host ${hostId} enrolled into the first organization and approved`);
  };

  void (async () => {
    try {
      if (!pinnedIdentity(stateDir)) {
        options.log("local agent: waiting for the first organization (finish the set-up first)");
        await enroll();
      }
      run();
    } catch (error) {
      options.log(`local agent: ${error instanceof Error ? error.message : String(error)}`);
    }
  })();

  return {
    async stop() {
      stopped = true;
      const agent = child;
      if (agent && agent.exitCode === null && agent.signalCode === null) {
        // The agent only; VMMs keep running and are re-adopted on the next start.
        const exited = new Promise((r) => agent.once("exit", r));
        agent.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      }
      imageServer.server.closeAllConnections();
      await new Promise<void>((r) => imageServer.server.close(() => r()));
    },
  };
}

/** An enrollment that pinned a trust root (older state has none and cannot run). */
function pinnedIdentity(stateDir: string): boolean {
  const path = join(stateDir, "identity.json");
  if (!existsSync(path)) return false;
  try {
    return "trust_root" in JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return false;
  }
}

function spawnAgent(
  env: NodeJS.ProcessEnv,
  args: string[],
  stdout: "inherit" | "pipe" = "inherit",
): ChildProcess {
  return spawn(AGENT_BIN, args, {
    stdio: ["ignore", stdout, "inherit"],
    // The simulator is the point in development, not a host problem (unless said otherwise).
    env: { STRATO_AGENT_SIMULATOR: "expected", ...env, STRATO_AGENT_IMAGE_CACHE_GB: "2" },
  });
}

async function firstOrganization(deps: Deps, stopped: () => boolean): Promise<string | undefined> {
  while (!stopped()) {
    const [org] = await deps.db
      .select({ id: organizations.id })
      .from(organizations)
      .orderBy(asc(organizations.createdAt))
      .limit(1);
    if (org) return org.id;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  return undefined;
}

/**
 * A 64 MiB qcow2 made once with qemu-img (Debian `qemu-utils`), so a VM can be created without
 * reaching the internet. The simulator boots it like any image.
 */
async function serveDemoImage(
  dataDir: string,
  port: number,
): Promise<{ server: Server; url: string; sha256: string }> {
  const dir = join(dataDir, "demo-image");
  const path = join(dir, "demo.qcow2");
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const made = spawn("qemu-img", ["create", "-q", "-f", "qcow2", path, "64M"], {
      stdio: "inherit",
    });
    await new Promise((r) => made.once("exit", r));
  }
  const data = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  const server = createServer((req, res) => {
    if (req.url !== "/demo.qcow2" || data.length === 0) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": data.length }).end(data);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    server,
    url: `http://127.0.0.1:${port}/demo.qcow2`,
    sha256: createHash("sha256").update(data).digest("hex"),
  };
}

/** The demo image in the organization's catalog, added on behalf of its first owner. */
async function addDemoImage(deps: Deps, orgId: string, url: string, sha256: string) {
  const [exists] = await deps.db
    .select({ id: images.id })
    .from(images)
    .where(and(eq(images.orgId, orgId), eq(images.name, DEMO_IMAGE)));
  const [owner] = await deps.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")))
    .limit(1);
  if (exists || !owner) return;
  const sc: ServiceContext = {
    deps,
    actor: { kind: "user", userId: owner.userId, sessionId: null },
    requestId: "dev-local-agent",
  };
  await createImage(sc, orgId, {
    name: DEMO_IMAGE,
    url,
    sha256,
    format: "qcow2",
    minDiskGb: 1,
    public: true,
  });
}
