import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { type Deps, systemDeps } from "../../src/deps";
import { createOrganization } from "../../src/domain/orgs/create-organization";
import { createProject } from "../../src/domain/projects/create-project";
import { createToken } from "../../src/domain/tokens/create-token";
import { openNodeDatabase } from "../../src/node/database";
import { stopAgentAndVmms } from "../hypervisor/support";
import { ImageServer, MiB, makeImage, vmmsOf } from "../ops/support";
import { operatorContext } from "../support/operator";
import { busy, until } from "../support/poll";
import {
  freePort,
  killGroup,
  processSandbox,
  type Spawned,
  signalGroup,
  waitForOutput,
} from "../support/processes";
import { signingEnv } from "../support/signing";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");
const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");

type Operation = { id: string; status: string; error: { code: string; hint: string } | null };
type Vm = {
  id: string;
  observedState: string;
  stateReason: string | null;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
};
type Accepted = { vm: Vm; operation: Operation };

/**
 * The whole product with real processes on loopback: the Node control plane, `strato-agent`
 * enrolled through the API, and the Cloud Hypervisor simulator the agent starts per VM. Only the
 * first account is made directly in the database (passkey sign-up has its own tests).
 */
describe("VMs end to end: control plane + strato-agent + Cloud Hypervisor simulator", () => {
  const sandbox = processSandbox("strato-vm-e2e-");
  const stateDir = join(sandbox.dataDir, "agent");
  const dbUrl = `file:${join(sandbox.dataDir, "cp.db")}`;
  const images = new ImageServer();
  const agentEnv = {
    STRATO_AGENT_HEARTBEAT_MS: "500",
    STRATO_AGENT_STATUS_MS: "1000",
    STRATO_AGENT_CLAIM_MS: "1000",
    STRATO_AGENT_POLL_MS: "300",
    STRATO_AGENT_APPROVAL_POLL_MS: "300",
    STRATO_AGENT_MACHINE_ID: "e2e00000000000000000000000000vm1",
    // The simulator boots anything; a real host names its firmware or kernel.
    STRATO_AGENT_KERNEL: join(sandbox.dataDir, "vmlinux"),
  };
  let server: Spawned;
  let agent: Spawned;
  let base = "";
  let deps: Deps;
  let secret = "";
  let orgId = "";
  let projectId = "";
  let imageId = "";
  let hostId = "";
  const output = () =>
    `agent:\n${agent?.output().slice(-6000)}\nserver:\n${server?.output().slice(-3000)}`;

  const api = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set("authorization", `Bearer ${secret}`);
    if (json !== undefined) headers.set("content-type", "application/json");
    return fetch(`${base}${path}`, {
      ...rest,
      headers,
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
  const ok = async <T>(res: Response, status = 200): Promise<T> => {
    const text = await res.text();
    expect(res.status, `${text}\n${output()}`).toBe(status);
    return JSON.parse(text) as T;
  };
  const vm = (id: string) => api(`/api/v1/vms/${id}`).then((r) => ok<Vm>(r));
  /** Long-polls the operation until it finishes, and expects it to have succeeded. */
  const finished = async (accepted: Accepted) => {
    const op = await until(
      `operation ${accepted.operation.id}`,
      async () => {
        const o = await ok<Operation>(
          await api(`/api/v1/operations/${accepted.operation.id}?wait=10s`),
        );
        return o.status === "pending" || o.status === "running" ? undefined : o;
      },
      { timeoutMs: 90_000, context: output },
    );
    expect(op, output()).toMatchObject({ status: "succeeded", error: null });
    return vm(accepted.vm.id);
  };
  const startAgent = (extraEnv: Record<string, string> = {}) => {
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], { ...agentEnv, ...extraEnv });
    return agent;
  };

  beforeAll(async () => {
    await images.start();
    const image = await makeImage(images, sandbox.dataDir, "debian.qcow2", "qcow2", 64 * MiB);
    const port = await freePort();
    server = sandbox.spawn(TSX, ["src/entry/node.ts"], {
      PORT: String(port),
      DATABASE_URL: dbUrl,
      ...(await signingEnv()),
      STRATO_AGENT_LEASE_S: "6",
      STRATO_HOST_UNREACHABLE_S: "4",
    });
    await waitForOutput(server, "listening on", 60_000);
    base = `http://127.0.0.1:${port}`;

    // The first account, its organization, project and an admin API token.
    deps = systemDeps(
      parseConfig({ DATABASE_URL: dbUrl, STRATO_ENV: "test" }, "node"),
      openNodeDatabase(dbUrl),
      { authzSchema: readFileSync(join(import.meta.dirname, "../../permify/schema.perm"), "utf8") },
    );
    await deps.db.$client.execute("PRAGMA busy_timeout = 5000");
    const sc = await operatorContext(deps, "e2e");
    orgId = (await busy(() => createOrganization(sc, { name: "E2E" }))).id;
    projectId = (await busy(() => createProject(sc, orgId, { name: "Web" }))).id;
    secret = (await busy(() => createToken(sc, orgId, { name: "e2e", role: "admin" }))).secret;

    // Enroll the host through the API and the agent's own command, then approve it.
    const enrollment = await ok<{ secret: string }>(
      await api(`/api/v1/organizations/${orgId}/enrollment-tokens`, {
        method: "POST",
        json: { description: "e2e", maxUses: 1 },
      }),
      201,
    );
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", base, "--token", enrollment.secret, "--state-dir", stateDir],
      agentEnv,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
    await ok(await api(`/api/v1/hosts/${hostId}/approve`, { method: "POST" }));
    startAgent();
    await until(
      "the host to report its status",
      async () => {
        const host = await ok<{ health: string }>(await api(`/api/v1/hosts/${hostId}`));
        return ["healthy", "warning"].includes(host.health) ? host : undefined;
      },
      { timeoutMs: 60_000, context: output },
    );
    imageId = (
      await ok<{ id: string }>(
        await api(`/api/v1/organizations/${orgId}/images`, {
          method: "POST",
          json: { name: "debian", url: image.url, sha256: image.sha256, format: "qcow2" },
        }),
        201,
      )
    ).id;
  }, 180_000);

  afterAll(async () => {
    await stopAgentAndVmms(agent, join(stateDir, "run"));
    await images.stop();
    deps?.db.$client.close();
  });

  const create = async (name: string) =>
    ok<Accepted>(
      await api(`/api/v1/projects/${projectId}/vms`, {
        method: "POST",
        json: { name, imageId, vcpus: 1, memoryMb: 512, diskGb: 2 },
      }),
      202,
    );

  it("create → running → stop → start → resize → delete", async () => {
    const created = await create("web-1");
    const running = await finished(created);
    expect(running.observedState).toBe("running");
    expect(vmmsOf(join(stateDir, "run"), created.vm.id)).toHaveLength(1);
    // The create's steps are in its work item's log on the control plane.
    const page = await ok<{ items: { id: string; op: string; resourceId: string }[] }>(
      await api(`/api/v1/hosts/${hostId}/work-items?limit=200`),
    );
    const item = page.items.find((i) => i.op === "vm.create" && i.resourceId === created.vm.id);
    if (!item) throw new Error("no create item");
    const log = await ok<{ events: { kind: string; detail: { message?: string } }[] }>(
      await api(`/api/v1/hosts/${hostId}/work-items/${item.id}`),
    );
    expect(log.events.filter((e) => e.kind === "progress").map((e) => e.detail.message)).toEqual([
      "preparing image",
      "image ready",
      "disk ready",
      "seed ready",
      "defining",
      "booting",
    ]);

    const post = (action: string, json?: unknown) =>
      api(`/api/v1/vms/${created.vm.id}/${action}`, {
        method: "POST",
        ...(json !== undefined ? { json } : {}),
      }).then((r) => ok<Accepted>(r, 202));

    expect((await finished(await post("stop"))).observedState).toBe("stopped");
    expect((await finished(await post("start"))).observedState).toBe("running");
    // A resize waits for a stop, the disk's too (CH cannot grow the running qcow2 overlay).
    const runningResize = await api(`/api/v1/vms/${created.vm.id}/resize`, {
      method: "POST",
      json: { diskGb: 4 },
    });
    expect(runningResize.status).toBe(409);
    await finished(await post("stop"));
    const resized = { observedState: "stopped", vcpus: 2, memoryMb: 1024, diskGb: 4 };
    expect(
      await finished(await post("resize", { vcpus: 2, memoryMb: 1024, diskGb: 4 })),
    ).toMatchObject(resized);
    expect(await finished(await post("start"))).toMatchObject({
      ...resized,
      observedState: "running",
    });

    const deleting = await ok<Accepted>(
      await api(`/api/v1/vms/${created.vm.id}`, { method: "DELETE" }),
      202,
    );
    await until(
      "the VM to be gone",
      async () => ((await api(`/api/v1/vms/${created.vm.id}`)).status === 404 ? true : undefined),
      { timeoutMs: 60_000, context: output },
    );
    const op = await ok<Operation>(await api(`/api/v1/operations/${deleting.operation.id}`));
    expect(op.status).toBe("succeeded");
    expect(vmmsOf(join(stateDir, "run"), created.vm.id)).toEqual([]);
  });

  it("an agent killed mid-create converges to one running VM after it restarts", {
    timeout: 120_000,
  }, async () => {
    // A create takes ~0.2 s on the simulator: a slow boot (its VMM keeps the delay) holds it on
    // the host long enough to kill the agent in the middle of it.
    killGroup(agent);
    startAgent({ CH_SIM_BOOT_DELAY_MS: "3000" });
    const created = await create("web-2");
    // Kill the agent as soon as the host has the item (accepted), before it can report.
    await until(
      "the create to reach the host",
      async () => {
        const op = await ok<Operation>(await api(`/api/v1/operations/${created.operation.id}`));
        return op.status === "running" && agent.output().includes(created.vm.id) ? op : undefined;
      },
      { timeoutMs: 30_000, context: output },
    );
    killGroup(agent);
    startAgent();
    const running = await finished(created);
    expect(running.observedState).toBe("running");
    expect(vmmsOf(join(stateDir, "run"), created.vm.id)).toHaveLength(1);
  });

  it("a host that stops reporting leaves its VMs unknown, then reconciles when it is back", async () => {
    const [listed] = (
      await ok<{ items: Vm[] }>(await api(`/api/v1/projects/${projectId}/vms?state=running`))
    ).items;
    if (!listed) throw new Error("no running VM left by the previous test");
    signalGroup(agent, "SIGSTOP");
    try {
      await until(
        "the VM to become unknown",
        async () => ((await vm(listed.id)).observedState === "unknown" ? true : undefined),
        { timeoutMs: 60_000, context: output },
      );
    } finally {
      signalGroup(agent, "SIGCONT");
    }
    const back = await until(
      "the VM to be running again",
      async () => {
        const v = await vm(listed.id);
        return v.observedState === "running" ? v : undefined;
      },
      { timeoutMs: 60_000, context: output },
    );
    expect(back.observedState).toBe("running");
  });
});
