import { readFileSync } from "node:fs";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { expect } from "vitest";
import { parseConfig } from "../../src/config";
import { workEvents, workItems } from "../../src/db/schema";
import { type Deps, systemDeps } from "../../src/deps";
import { createOrganization } from "../../src/domain/orgs/create-organization";
import { createToken } from "../../src/domain/tokens/create-token";
import { type EnqueueInput, enqueueWork } from "../../src/domain/work/enqueue";
import { openNodeDatabase } from "../../src/node/database";
import { AgentProxy } from "./agent-proxy";
import { operatorContext } from "./operator";
import { busy, until } from "./poll";
import { freePort, killGroup, type processSandbox, type Spawned, waitForOutput } from "./processes";
import { generateSigningKey, signingEnv, type TestSigningKey } from "./signing";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");
const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");

type Sandbox = ReturnType<typeof processSandbox>;

/** Short intervals so the protocol's timers fire within a test (defaults are 10 s – 60 s). */
export const FAST_AGENT_ENV = {
  STRATO_AGENT_HEARTBEAT_MS: "1000",
  STRATO_AGENT_STATUS_MS: "2000",
  STRATO_AGENT_CLAIM_MS: "1000",
  STRATO_AGENT_POLL_MS: "500",
  STRATO_AGENT_APPROVAL_POLL_MS: "300",
  STRATO_AGENT_TEST_OPS: "1",
};

/** One line of the agent's structured log. */
export type LogLine = { level: string; msg: string; [field: string]: unknown };

export function logLines(output: string): LogLine[] {
  return output.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** An agent enrolled through a proxy; `start()` runs it (again, after a kill). */
export type LabAgent = {
  hostId: string;
  stateDir: string;
  proxy: AgentProxy;
  process: () => Spawned;
  start: () => Spawned;
  /** Log lines of every run so far. */
  lines: () => LogLine[];
};

/**
 * The Node control plane on loopback (its own database file, signing key and trust root), an organization with
 * an admin API token for the REST API, and agents enrolled through an `AgentProxy`. The test holds
 * the control plane's signing key, so it can forge items the control plane would never issue.
 */
export async function startLab(
  sandbox: Sandbox,
  serverEnv: Record<string, string> = {},
  /** A signing key made beforehand, e.g. for a trust bundle signed offline that lists it. */
  options: { signingKey?: TestSigningKey } = {},
) {
  const port = await freePort();
  const signingKey: TestSigningKey = options.signingKey ?? (await generateSigningKey());
  // The agents pin this root at enrollment; restarts keep it (a new root needs re-enrollment).
  const trustRoot: TestSigningKey = await generateSigningKey();
  const dbUrl = `file:${join(sandbox.dataDir, "cp.db")}`;
  let env: Record<string, string> = {
    ...(await signingEnv(signingKey, trustRoot)),
    ...serverEnv,
  };
  // An offline-signed bundle replaces the root key (the control plane refuses both).
  if (serverEnv.STRATO_TRUST_BUNDLE !== undefined) delete env.STRATO_TRUST_ROOT_KEY;
  const startServer = async () => {
    const spawned = sandbox.spawn(TSX, ["src/entry/node.ts"], {
      PORT: String(port),
      DATABASE_URL: dbUrl,
      ...env,
    });
    await waitForOutput(spawned, "listening on", 90_000);
    return spawned;
  };
  let server = await startServer();
  const base = `http://127.0.0.1:${port}`;
  const deps: Deps = systemDeps(
    parseConfig({ DATABASE_URL: dbUrl, STRATO_ENV: "test" }, "node"),
    openNodeDatabase(dbUrl),
    { authzSchema: readFileSync(join(import.meta.dirname, "../../permify/schema.perm"), "utf8") },
  );
  await deps.db.$client.execute("PRAGMA busy_timeout = 5000");
  const admin = await operatorContext(deps, "lab");
  const orgId = (await busy(() => createOrganization(admin, { name: "Lab" }))).id;
  const apiToken = (await busy(() => createToken(admin, orgId, { name: "lab", role: "admin" })))
    .secret;
  const agents: LabAgent[] = [];

  /** Server and agent output, for failure messages. */
  const context = () =>
    [
      ...agents.map((a) => `agent ${a.hostId}:\n${a.process().output().slice(-6000)}`),
      `server:\n${server.output().slice(-3000)}`,
    ].join("\n");

  /** The admin REST API; a non-`status` answer fails the test with the body and process output. */
  const api = async <T>(
    path: string,
    init: { method?: string; json?: unknown } = {},
    status = 200,
  ) => {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${apiToken}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
    const body = await res.text();
    expect(res.status, `${path}: ${body}\n${context()}`).toBe(status);
    return JSON.parse(body) as T;
  };

  const lab = {
    base,
    get server(): Spawned {
      return server;
    },
    /**
     * Kills the control plane outright (no graceful shutdown) and starts it again, with `changes`
     * to its environment (a new signing key, say).
     */
    async crashAndRestartServer(changes: Record<string, string> = {}): Promise<void> {
      env = { ...env, ...changes };
      killGroup(server);
      await server.exited;
      server = await startServer();
    },
    deps,
    orgId,
    signingKey,
    trustRoot,
    api,
    context,
    /** Polls with the lab's process output on timeout. */
    until: <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000) =>
      until(what, fn, { timeoutMs, context }),

    /** A fresh enrollment token from the REST API. */
    async enrollmentToken(): Promise<string> {
      const created = await api<{ secret: string }>(
        `/api/v1/organizations/${orgId}/enrollment-tokens`,
        { method: "POST", json: { description: "lab", maxUses: 1 } },
        201,
      );
      return created.secret;
    },

    /** Runs `strato-agent` once with arguments (enroll, run …) and the fast settings. */
    agentCommand(args: string[], env: Record<string, string> = {}): Spawned {
      return sandbox.spawn(AGENT, args, { ...FAST_AGENT_ENV, ...env });
    },

    /**
     * Enrolls an agent through its own proxy, approves the host through the REST API, starts it
     * and waits until it has taken its first claim.
     */
    async agent(
      name: string,
      env: Record<string, string> = {},
      /** Runs before the agent starts, e.g. to install proxy rules. */
      prepare: (proxy: AgentProxy) => void = () => {},
    ): Promise<LabAgent> {
      const proxy = new AgentProxy(base);
      await proxy.start();
      const stateDir = join(sandbox.dataDir, name);
      const machineId = Buffer.from(name.padEnd(16, "0").slice(0, 16)).toString("hex");
      const agentEnv = { STRATO_AGENT_MACHINE_ID: machineId, ...env };
      const enroll = lab.agentCommand(
        [
          "enroll",
          "--url",
          proxy.url,
          "--token",
          await lab.enrollmentToken(),
          "--state-dir",
          stateDir,
        ],
        agentEnv,
      );
      expect(await enroll.exited, enroll.output()).toBe(0);
      const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
      await api(`/api/v1/hosts/${hostId}/approve`, { method: "POST" });
      const runs: Spawned[] = [];
      const agent: LabAgent = {
        hostId,
        stateDir,
        proxy,
        process: () => {
          const last = runs.at(-1);
          if (!last) throw new Error("agent not started");
          return last;
        },
        start: () => {
          const run = lab.agentCommand(["run", "--state-dir", stateDir], agentEnv);
          runs.push(run);
          return run;
        },
        lines: () => runs.flatMap((r) => logLines(r.output())),
      };
      agents.push(agent);
      prepare(proxy);
      agent.start();
      await lab.until("the agent's first claim", async () =>
        proxy.seen("POST", "/api/v1/agent/claim").length > 0 ? true : undefined,
      );
      return agent;
    },

    /** Queues a work item for the host (the test's enqueue cannot ring the server's doorbell). */
    enqueue(hostId: string, input: Partial<EnqueueInput> & { uid?: string } = {}) {
      const { uid, ...rest } = input;
      return busy(() =>
        enqueueWork(deps, {
          hostId,
          op: "host.noop",
          resource: { kind: "host", id: hostId, uid: uid ?? `${hostId}-${Math.random()}` },
          createdBy: "lab",
          ...rest,
        }),
      );
    },

    item: (id: string) => deps.db.query.workItems.findFirst({ where: eq(workItems.id, id) }),

    events: (id: string) =>
      deps.db
        .select()
        .from(workEvents)
        .where(eq(workEvents.itemId, id))
        .orderBy(asc(workEvents.id)),

    /** Waits until the item is in one of `states`, and returns its row. */
    settled(id: string, states: string[], timeoutMs = 60_000) {
      return lab.until(
        `work item ${id} to be ${states.join("/")}`,
        async () => {
          const row = await lab.item(id);
          return row && states.includes(row.state) ? row : undefined;
        },
        timeoutMs,
      );
    },

    /** The organization's audit events with `action`, via the REST API. */
    async audit(action: string) {
      const page = await api<{ items: { action: string; targetId: string; detail: unknown }[] }>(
        `/api/v1/organizations/${orgId}/audit-events?action=${action}&limit=200`,
      );
      return page.items;
    },

    /** A host's health as the REST API reports it. */
    async health(hostId: string): Promise<string> {
      return (await api<{ health: string }>(`/api/v1/hosts/${hostId}`)).health;
    },

    close() {
      deps.db.$client.close();
      return Promise.all(agents.map((a) => a.proxy.stop()));
    },
  };
  return lab;
}

export type Lab = Awaited<ReturnType<typeof startLab>>;
