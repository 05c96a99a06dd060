import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { type Deps, systemDeps } from "../../src/deps";
import { openNodeDatabase } from "../../src/node/database";
import { until } from "../support/poll";
import {
  freePort,
  processSandbox,
  type Spawned,
  signalGroup,
  stopGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";
import { signingEnv } from "../support/signing";
import { startUpgradeProxy } from "../support/upgrade-proxy";
import {
  AGENT,
  AUTHZ_SCHEMA,
  agentAccessToken,
  cancelRunningSleep,
  closed,
  enrollApproved,
  openDoorbell,
  operatorApi,
  pickUp as pickUpVm,
} from "./doorbell-fixture";

const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");
/** What the agent sends as its boot id (agent/src/wakeup-client.ts). */
const BOOT_ID = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
/** Well under the 5 s polling interval; the safety claim (60 s) is left at its default. */
const RING_BUDGET_MS = 2_500;

/**
 * The WebSocket doorbell with real processes on loopback: the Node control plane, a proxy in
 * front of it, and `strato-agent` at its production timings (5 s polling, 60 s safety claim), so
 * only a ring explains a fast pick-up.
 */
describe("doorbell: strato-agent against the Node server", () => {
  const sandbox = processSandbox("strato-doorbell-");
  const stateDir = join(sandbox.dataDir, "agent");
  const dbUrl = `file:${join(sandbox.dataDir, "cp.db")}`;
  let server: Spawned;
  let agent: Spawned;
  let deps: Deps;
  let base = "";
  let proxy: Awaited<ReturnType<typeof startUpgradeProxy>>;
  let ops: Awaited<ReturnType<typeof operatorApi>>;
  let hostId = "";
  let agentEnv: Record<string, string> = {};
  const output = () =>
    `agent:\n${agent?.output().slice(-5000)}\nserver:\n${server?.output().slice(-2000)}`;

  const pickUp = async (name: string) => (await pickUpVm(deps, ops, name, output)).delay;

  let startServer: () => Promise<void>;

  beforeAll(async () => {
    const port = await freePort();
    const signing = await signingEnv();
    startServer = async () => {
      server = sandbox.spawn(TSX, ["src/entry/node.ts"], {
        PORT: String(port),
        DATABASE_URL: dbUrl,
        ...signing,
      });
      await waitForOutput(server, "listening on", 60_000);
    };
    await startServer();
    base = `http://127.0.0.1:${port}`;
    proxy = await startUpgradeProxy(base);
    deps = systemDeps(
      parseConfig({ DATABASE_URL: dbUrl, STRATO_ENV: "test" }, "node"),
      openNodeDatabase(dbUrl),
      { authzSchema: AUTHZ_SCHEMA },
    );
    ops = await operatorApi(deps, base);

    const env = {
      STRATO_AGENT_APPROVAL_POLL_MS: "300",
      // Status every second keeps the host fresh; the hang-up test below turns it off.
      STRATO_AGENT_STATUS_MS: "1000",
      STRATO_AGENT_MACHINE_ID: "d00b0000000000000000000000000001",
      // The simulator boots anything; vm.create fails earlier anyway (unreachable image).
      STRATO_AGENT_KERNEL: join(sandbox.dataDir, "vmlinux"),
      STRATO_AGENT_TEST_OPS: "1",
    };
    hostId = await enrollApproved(sandbox, ops, { url: proxy.url, stateDir, env });
    agentEnv = env;
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    await until(
      "the host to report its status",
      async () => {
        const host = await ops.request(`/api/v1/hosts/${hostId}`);
        return ["healthy", "warning"].includes(String(host.health)) ? host : undefined;
      },
      { timeoutMs: 60_000, context: output },
    );
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    deps?.db.$client.close();
  });

  it("an item queued while the agent is connected is picked up through the socket's ring", async () => {
    await waitForOutput(agent, '"mode":"websocket"', 30_000);
    const delay = await pickUp("rung-1");
    expect(delay, output()).toBeLessThan(RING_BUDGET_MS);
    expect(agent.output()).toContain('"msg":"doorbell rang"');
  }, 90_000);

  it("a cancellation reaches the agent through the socket: the running item stops in seconds, not at the 20 s renewal", async () => {
    const { itemId, ms, row } = await cancelRunningSleep(deps, ops, {
      hostId,
      name: "socket-sleep",
      agentOutput: () => agent.output(),
      context: output,
    });
    expect(ms, output()).toBeLessThan(5_000);
    expect(row.result).toMatchObject({ outcome: "cancelled" });
    expect(agent.output()).toContain(
      `"msg":"doorbell: item cancelled","itemId":"${itemId}","via":"socket"`,
    );
  }, 90_000);

  it("one socket per host: another boot gets 409 session_conflict, the same boot replaces it", async () => {
    const token = await agentAccessToken(base, stateDir);
    const clone = await openDoorbell(base, "cloned-image", token);
    expect(clone).toMatchObject({
      opened: false,
      status: 409,
      contentType: "application/problem+json",
      body: { code: "session_conflict" },
    });
    // Our socket with the agent's boot id takes over; the agent reconnects and takes it back.
    const mine = await openDoorbell(base, BOOT_ID, token);
    if (!mine.opened) throw new Error(`refused: ${JSON.stringify(mine)}`);
    expect(await closed(mine.socket)).toBe(4000);
    await until("the agent to be back on its socket", async () =>
      agent.output().includes("doorbell socket closed") ? true : undefined,
    );
    const delay = await pickUp("rung-2");
    expect(delay, output()).toBeLessThan(RING_BUDGET_MS);
  }, 90_000);

  it("a control-plane restart closes the socket; the agent reconnects and is rung again (row 14)", async () => {
    const before = agent.output().length;
    signalGroup(server, "SIGTERM");
    // The open doorbell socket must not keep the server from exiting.
    await waitForGroupExit(server, 10_000);
    await startServer();
    await until("the agent back on its socket", async () =>
      agent.output().slice(before).includes('"mode":"websocket"') ? true : undefined,
    );
    expect(agent.output().slice(before)).toContain("doorbell socket closed");
    // Claims failed while the server was down and back off; wait for one to succeed, so the
    // timing below is the ring's and not the tail of that backoff.
    await until("a claim on the new server", async () =>
      /"path":"\/api\/v1\/agent\/claim","status":200/.test(server.output()) ? true : undefined,
    );
    const delay = await pickUp("after-restart");
    expect(delay, output()).toBeLessThan(RING_BUDGET_MS);
  }, 90_000);

  it("WebSockets cut and refused by a proxy: the agent falls back to long polling and still runs work", async () => {
    const before = agent.output().length;
    proxy.refuseWebSockets();
    await waitForOutput(agent, '"mode":"long-poll"', 15_000);
    const delay = await pickUp("long-polled");
    // The long poll is answered by the same ring; still far below the 5 s polling interval.
    expect(delay, output()).toBeLessThan(RING_BUDGET_MS);
    const since = agent.output().slice(before);
    expect(since).toContain("doorbell socket closed");
    expect(since).not.toContain('"mode":"websocket"');
    // It keeps trying the socket (with backoff) while it long-polls.
    await until("a reconnect attempt", async () => (proxy.refused() > 0 ? true : undefined), {
      timeoutMs: 20_000,
    });
  }, 90_000);

  it("a cancellation reaches a long-polling agent too: its long poll answers with the item, which stops in seconds", async () => {
    // Still long polling: the proxy refuses sockets since the test above.
    const { itemId, ms, row } = await cancelRunningSleep(deps, ops, {
      hostId,
      name: "long-polled-sleep",
      agentOutput: () => agent.output(),
      context: output,
    });
    expect(ms, output()).toBeLessThan(5_000);
    expect(row.result).toMatchObject({ outcome: "cancelled" });
    expect(agent.output()).toContain(
      `"msg":"doorbell: item cancelled","itemId":"${itemId}","via":"long poll"`,
    );
  }, 90_000);

  it("another boot holds the socket: the agent gets 409, raises the alarm, keeps working by long poll, and exits 1 when the conflict outlasts its deadline (row 21)", async () => {
    // The agent has no socket now (the proxy refuses them); a clone of this host connects first.
    const clone = await openDoorbell(base, "cloned-image", await agentAccessToken(base, stateDir));
    if (!clone.opened) throw new Error(`refused: ${JSON.stringify(clone)}`);
    const before = agent.output().length;
    proxy.allowWebSockets();
    await until(
      "the agent to report the conflict",
      async () => (agent.output().slice(before).includes("session conflict") ? true : undefined),
      { timeoutMs: 70_000, context: output },
    );
    expect(agent.output().slice(before)).toContain('"alert":true');
    const delay = await pickUp("beside-a-clone");
    expect(delay, output()).toBeLessThan(RING_BUDGET_MS);
    expect(agent.output().slice(before)).not.toContain('"mode":"websocket"');

    // While the clone keeps the socket, the agent retries and then gives up: exit 1. Its retry
    // period and deadline (30 s, 4 min in production) are shortened here.
    await stopGroup(agent);
    const startedAt = Date.now();
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], {
      ...agentEnv,
      STRATO_AGENT_SESSION_CONFLICT_RETRY_MS: "500",
      STRATO_AGENT_SESSION_CONFLICT_EXIT_MS: "3000",
    });
    expect(await agent.exited, output()).toBe(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_000);
    const conflicts = agent.output().match(/doorbell session conflict/g) ?? [];
    expect(conflicts.length, output()).toBeGreaterThanOrEqual(3);
    expect(agent.output()).toContain("another boot of this host keeps the doorbell; stopping");
    clone.socket.close();
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
  }, 90_000);

  it("revoking hangs up the doorbell: the agent learns at once and exits 3; upgrades get 401 without a token, 403 when revoked", async () => {
    expect(await openDoorbell(base, "anon")).toMatchObject({
      opened: false,
      status: 401,
      contentType: "application/problem+json",
      body: { code: "unauthenticated" },
    });
    // With its heartbeat, status and safety claim an hour away, only the doorbell can tell the
    // agent now: revoking hangs up its socket, it claims at once, is refused and exits 3.
    await stopGroup(agent);
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], {
      ...agentEnv,
      STRATO_AGENT_HEARTBEAT_MS: "3600000",
      STRATO_AGENT_STATUS_MS: "3600000",
      STRATO_AGENT_CLAIM_MS: "3600000",
    });
    await waitForOutput(agent, '"mode":"websocket"', 30_000);
    const token = await agentAccessToken(base, stateDir);
    const revokedAt = Date.now();
    await ops.request(`/api/v1/hosts/${hostId}/revoke`, "POST");
    expect(await agent.exited, output()).toBe(3);
    expect(Date.now() - revokedAt, output()).toBeLessThan(10_000);
    // The hang-up rings once, then closes the socket with 4003: either makes the agent claim.
    expect(agent.output()).toMatch(/doorbell rang|closed 4003/);
    expect(await openDoorbell(base, BOOT_ID, token)).toMatchObject({
      opened: false,
      status: 403,
      contentType: "application/problem+json",
      body: { code: "host_revoked" },
    });
  }, 90_000);
});
