import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { workEvents, workItems } from "../../src/db/schema";
import { type Deps, systemDeps } from "../../src/deps";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { openNodeDatabase } from "../../src/node/database";
import { AgentProxy, DROP } from "../support/agent-proxy";
import { until } from "../support/poll";
import {
  freePort,
  processSandbox,
  type Spawned,
  stopGroup,
  waitForOutput,
} from "../support/processes";
import {
  AGENT,
  AUTHZ_SCHEMA,
  agentAccessToken,
  cancelRunningSleep,
  closed,
  enrollApproved,
  openDoorbell,
  operatorApi,
  pickUp,
} from "./doorbell-fixture";

/** What the agent sends as its boot id (agent/src/wakeup-client.ts). */
const BOOT_ID = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

/**
 * The real agent against the Worker under Miniflare (`npm run dev`): signing key from the dev
 * runner, the doorbell WebSocket held by the HostDoorbell Durable Object (hibernation API), rings
 * from work the Worker queues. The agent keeps its production timings (5 s polling, 60 s safety
 * claim), so only a ring explains a fast pick-up.
 */
describe("strato-agent against the Worker (npm run dev)", () => {
  const sandbox = processSandbox("strato-agent-worker-");
  const opened: Deps[] = [];
  afterAll(() => {
    for (const d of opened) d.db.$client.close();
  });

  /**
   * `npm run dev` on free ports with its data in `name`: the Worker's URL, deps and an operator
   * on its database, and stop/start (a deploy: the Durable Objects and sockets reset).
   */
  async function devControlPlane(name: string) {
    const [port, dbPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      STRATO_PORT: String(port),
      STRATO_DB_PORT: String(dbPort),
      STRATO_INSPECTOR_PORT: String(inspectorPort),
      STRATO_DATA_DIR: join(sandbox.dataDir, name),
      STRATO_DEV_AGENT: "0",
    };
    let dev: Spawned | undefined;
    const start = async () => {
      dev = sandbox.spawn("npm", ["run", "-s", "dev"], env);
      await waitForOutput(dev, "Strato is ready", 90_000);
    };
    await start();
    const base = `http://127.0.0.1:${port}`;
    const dbUrl = `http://127.0.0.1:${dbPort}`;
    const deps = systemDeps(parseConfig({ DATABASE_URL: dbUrl }, "node"), openNodeDatabase(dbUrl), {
      authzSchema: AUTHZ_SCHEMA,
    });
    opened.push(deps);
    return {
      base,
      deps,
      ops: await operatorApi(deps, base),
      output: () => dev?.output().slice(-3000) ?? "",
      start,
      stop: async () => {
        if (dev) await stopGroup(dev);
      },
    };
  }

  it("connects its doorbell socket to the Durable Object, is rung through it and runs the work", {
    timeout: 300_000,
  }, async () => {
    const cp = await devControlPlane("cp");
    const { base, deps: d, ops } = cp;

    const stateDir = join(sandbox.dataDir, "agent");
    const env = {
      STRATO_AGENT_APPROVAL_POLL_MS: "300",
      STRATO_AGENT_STATUS_MS: "2000",
      STRATO_AGENT_MACHINE_ID: "feed0000000000000000000000000001",
      STRATO_AGENT_KERNEL: join(sandbox.dataDir, "vmlinux"),
      STRATO_AGENT_TEST_OPS: "1",
    };
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", base, "--token", await ops.enrollmentToken(), "--state-dir", stateDir],
      env,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
    let agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    let previousAgent = "";
    const output = () => `${previousAgent}agent:\n${agent.output()}\ndev:\n${cp.output()}`;
    await waitForOutput(agent, "waiting for approval", 30_000);

    await ops.request(`/api/v1/hosts/${hostId}/approve`, "POST");
    await waitForOutput(agent, "host approved", 30_000);

    // The doorbell socket goes through wrangler's proxy and the Worker to the Durable Object.
    await waitForOutput(agent, '"mode":"websocket"', 30_000);
    await until(
      "the host to report its status",
      async () => {
        const host = await ops.request(`/api/v1/hosts/${hostId}`);
        return ["healthy", "warning"].includes(String(host.health)) ? host : undefined;
      },
      { timeoutMs: 30_000, context: output },
    );
    // Executed and reported (it fails: the image is not there, which is not what this tests).
    const { operationId, delay } = await pickUp(d, ops, "rung", output);
    expect(delay, output()).toBeLessThan(2_500);
    expect(agent.output()).toContain('"msg":"doorbell rang"');

    // The Durable Object's session rules: another boot is refused, the same boot takes over.
    const token = await agentAccessToken(base, stateDir);
    expect(await openDoorbell(base, "cloned-image", token)).toMatchObject({
      opened: false,
      status: 409,
      contentType: "application/problem+json",
      body: { code: "session_conflict" },
    });
    const mine = await openDoorbell(base, BOOT_ID, token);
    if (!mine.opened) throw new Error(`refused: ${JSON.stringify(mine)}`);
    mine.socket.send("ping");
    const pong = await new Promise((resolve) =>
      mine.socket.once("message", (m) => resolve(`${m}`)),
    );
    expect(pong).toBe("pong");
    // The agent reconnects within a few seconds and replaces this socket in turn.
    expect(await closed(mine.socket)).toBe(4000);

    expect(await openDoorbell(base, "anon")).toMatchObject({
      opened: false,
      status: 401,
      contentType: "application/problem+json",
      body: { code: "unauthenticated" },
    });
    expect(agent.output()).not.toContain("long poll failed");

    // Design §4.2 row 14: the control plane restarts (a deploy: Durable Objects reset, sockets
    // closed) while the agent runs an item. The agent falls back and reconnects; the item's result
    // reaches the new control plane, work queued afterwards is rung through the new socket,
    // nothing runs twice and the host is never marked Unreachable.
    // The test's enqueue cannot ring the Durable Object: the item is queued while the agent is
    // stopped (not while its socket reconnects and claims), and it claims at its start.
    await stopGroup(agent);
    previousAgent = `agent before its restart:\n${agent.output().slice(-3000)}\n`;
    const inFlight = await enqueueWork(d, {
      hostId,
      op: "host.sleep",
      params: { ms: 4_000 },
      resource: { kind: "host", id: hostId, uid: `${hostId}-in-flight` },
      createdBy: "test",
    });
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    await until(
      "the in-flight item to start",
      async () => (agent.output().includes(`"itemId":"${inFlight.id}"`) ? true : undefined),
      { timeoutMs: 30_000, context: output },
    );
    await waitForOutput(agent, '"mode":"websocket"', 30_000);
    const beforeRestart = agent.output().length;
    await cp.stop();
    await cp.start();
    await until(
      "the doorbell socket to be back",
      async () =>
        agent.output().slice(beforeRestart).includes('"mode":"websocket"') ? true : undefined,
      { timeoutMs: 60_000, context: output },
    );
    const after = await pickUp(d, ops, "after-restart", output);
    expect(after.delay, output()).toBeLessThan(2_500);
    const slept = await until(
      "the in-flight item's result",
      async () => {
        const row = await d.db.query.workItems.findFirst({ where: eq(workItems.id, inFlight.id) });
        return row?.state === "succeeded" ? row : undefined;
      },
      { timeoutMs: 60_000, context: output },
    );
    expect(slept.result).toMatchObject({ outcome: "succeeded", output: { slept: 4_000 } });
    expect(
      agent.output().match(new RegExp(`"executing work item","itemId":"${inFlight.id}"`, "g")),
    ).toHaveLength(1);
    // Each item ran once: one result event apiece, across the restart.
    for (const op of [operationId, after.operationId, inFlight.id]) {
      const results = await d.db
        .select({ kind: workEvents.kind })
        .from(workEvents)
        .innerJoin(workItems, eq(workItems.id, workEvents.itemId))
        .where(and(eq(workItems.idem, op), eq(workEvents.kind, "result")));
      expect(results, output()).toHaveLength(1);
    }
    const host = await ops.request(`/api/v1/hosts/${hostId}`);
    expect(["healthy", "warning"], output()).toContain(String(host.health));

    // With every timer an hour away: a cancellation, then a revocation, still reach the agent at
    // once through the Durable Object's socket.
    await stopGroup(agent);
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], {
      ...env,
      STRATO_AGENT_HEARTBEAT_MS: "3600000",
      STRATO_AGENT_STATUS_MS: "3600000",
      STRATO_AGENT_CLAIM_MS: "3600000",
    });
    await waitForOutput(agent, '"mode":"websocket"', 30_000);

    // A cancellation reaches a running item through the Durable Object's socket (a `cancel`
    // message), long before the 20 s renewal.
    const socket = await cancelRunningSleep(d, ops, {
      hostId,
      name: "socket-sleeper",
      agentOutput: () => agent.output(),
      context: output,
    });
    expect(socket.ms, output()).toBeLessThan(5_000);
    expect(socket.row.result).toMatchObject({ outcome: "cancelled" });
    expect(agent.output()).toContain(
      `"msg":"doorbell: item cancelled","itemId":"${socket.itemId}","via":"socket"`,
    );

    const revokedAt = Date.now();
    await ops.request(`/api/v1/hosts/${hostId}/revoke`, "POST");
    expect(await agent.exited, output()).toBe(3);
    expect(Date.now() - revokedAt, output()).toBeLessThan(10_000);
    // The hang-up rings once, then closes the socket with 4003: either makes the agent claim.
    expect(agent.output()).toMatch(/doorbell rang|closed 4003/);
  });
  it("a Worker swapped mid-request: the result is stored, the answer lost with the old Worker; the retry to the new one is answered from the idempotency record (row 14)", {
    timeout: 300_000,
  }, async () => {
    const cp = await devControlPlane("cp-swap");
    const { base, deps: d, ops } = cp;
    // Every agent call goes through this proxy (it passes no WebSockets: the agent long-polls).
    const proxy = new AgentProxy(base);
    await proxy.start();
    const stateDir = join(sandbox.dataDir, "agent-swap");
    const env = {
      STRATO_AGENT_APPROVAL_POLL_MS: "300",
      STRATO_AGENT_CLAIM_MS: "1000",
      STRATO_AGENT_MACHINE_ID: "feed0000000000000000000000000002",
      STRATO_AGENT_KERNEL: join(sandbox.dataDir, "vmlinux"),
      STRATO_AGENT_TEST_OPS: "1",
    };
    const hostId = await enrollApproved(sandbox, ops, { url: proxy.url, stateDir, env });
    const agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    const output = () => `agent:\n${agent.output()}\ndev:\n${cp.output()}`;
    await waitForOutput(agent, "host approved", 30_000);

    const item = await enqueueWork(d, {
      hostId,
      op: "host.noop",
      resource: { kind: "host", id: hostId, uid: `${hostId}-swap` },
      createdBy: "test",
    });
    const resultPath = `/api/v1/agent/items/${item.id}/result`;
    let swapped = false;
    // The old Worker stores the result and answers; the answer dies with it (the dev runner is
    // stopped before the proxy passes it on), so the agent sees its request cut mid-way.
    proxy.use(async (request, next) => {
      if (swapped || request.path !== resultPath) return next(request);
      const outcome = await next(request);
      if (outcome === DROP || outcome.status !== 200) return outcome;
      swapped = true;
      await cp.stop();
      return DROP;
    });
    await until("the result request to be cut", async () => (swapped ? true : undefined), {
      timeoutMs: 60_000,
      context: output,
    });
    await cp.start();
    await until(
      "the result to be delivered to the new Worker",
      async () =>
        agent.output().includes(`"msg":"result delivered","itemId":"${item.id}"`)
          ? true
          : undefined,
      { timeoutMs: 90_000, context: output },
    );
    const answers = proxy
      .seen("POST", resultPath)
      .map((e) => (e.outcome === DROP ? "dropped" : e.outcome.status));
    expect(answers[0], output()).toBe("dropped");
    const replay = proxy.seen("POST", resultPath).at(-1)?.outcome;
    if (!replay || replay === DROP) throw new Error(`no answer: ${answers.join(", ")}`);
    expect(replay.status).toBe(200);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    // Stored once, executed once, and the host is healthy after the swap.
    const results = await d.db
      .select({ kind: workEvents.kind })
      .from(workEvents)
      .where(and(eq(workEvents.itemId, item.id), eq(workEvents.kind, "result")));
    expect(results).toHaveLength(1);
    expect(
      agent.output().match(new RegExp(`"executing work item","itemId":"${item.id}"`, "g")),
    ).toHaveLength(1);
    const host = await ops.request(`/api/v1/hosts/${hostId}`);
    expect(["healthy", "warning"], output()).toContain(String(host.health));
    await stopGroup(agent);

    // The proxy passes no WebSockets: with every timer an hour away, the Durable Object's answer
    // to the long poll is how a cancellation reaches the running item before its renewal.
    const poller = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], {
      ...env,
      STRATO_AGENT_HEARTBEAT_MS: "3600000",
      STRATO_AGENT_STATUS_MS: "3600000",
      STRATO_AGENT_CLAIM_MS: "3600000",
    });
    const pollerOutput = () => `agent:\n${poller.output()}\ndev:\n${cp.output()}`;
    await waitForOutput(poller, '"mode":"long-poll"', 30_000);
    const polled = await cancelRunningSleep(d, ops, {
      hostId,
      name: "long-polled-sleeper",
      agentOutput: () => poller.output(),
      context: pollerOutput,
    });
    expect(polled.ms, pollerOutput()).toBeLessThan(5_000);
    expect(polled.row.result).toMatchObject({ outcome: "cancelled" });
    expect(poller.output()).toContain(
      `"msg":"doorbell: item cancelled","itemId":"${polled.itemId}","via":"long poll"`,
    );
    await stopGroup(poller);
    await proxy.stop();
  });
});
