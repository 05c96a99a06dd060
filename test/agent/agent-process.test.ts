import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { auditEvents, organizations, workEvents, workItems } from "../../src/db/schema";
import { type Deps, systemDeps } from "../../src/deps";
import type { ServiceContext } from "../../src/domain/context";
import { createEnrollmentToken } from "../../src/domain/hosts/create-enrollment-token";
import { getHost } from "../../src/domain/hosts/list-hosts";
import { decideHost } from "../../src/domain/hosts/transition";
import { cancelWork } from "../../src/domain/work/cancel";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { openNodeDatabase } from "../../src/node/database";
import { busy, until as pollUntil } from "../support/poll";
import {
  freePort,
  killGroup,
  processSandbox,
  type Spawned,
  signalGroup,
  stopGroup,
  waitForGroupExit,
  waitForOutput,
} from "../support/processes";
import { generateSigningKey, signingEnv } from "../support/signing";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");
const TSX = join(import.meta.dirname, "../../node_modules/.bin/tsx");

let context: () => string = () => "";

/** The agent-process test's `until`: process output on timeout. */
const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  pollUntil(what, fn, { timeoutMs, context: () => context() });

/**
 * The real agent process against the real Node server (loopback): enroll → approve → claim,
 * verify, execute and report; SIGKILL mid-execution and restart converges with one result.
 */
describe("strato-agent against the Node server", () => {
  const sandbox = processSandbox("strato-agent-e2e-");
  const { dataDir } = sandbox;
  const stateDir = join(dataDir, "agent-state");
  const dbUrl = `file:${join(dataDir, "cp.db")}`;
  let base = "";
  let deps: Deps;
  let sc: ServiceContext;
  let orgId = "";
  let server: Spawned;
  const agentEnv = {
    STRATO_AGENT_HEARTBEAT_MS: "1000",
    STRATO_AGENT_STATUS_MS: "2000",
    STRATO_AGENT_CLAIM_MS: "1000",
    STRATO_AGENT_POLL_MS: "500",
    STRATO_AGENT_APPROVAL_POLL_MS: "300",
    STRATO_AGENT_MACHINE_ID: "e2e0000000000000000000000000e2e0",
    STRATO_AGENT_TEST_OPS: "1",
  };

  beforeAll(async () => {
    const port = await freePort();
    server = sandbox.spawn(TSX, ["src/entry/node.ts"], {
      PORT: String(port),
      DATABASE_URL: dbUrl,
      ...(await signingEnv()),
      STRATO_AGENT_LEASE_S: "6",
    });
    await waitForOutput(server, "listening on", 60_000);
    base = `http://127.0.0.1:${port}`;
    const config = parseConfig({ DATABASE_URL: dbUrl, STRATO_ENV: "test" }, "node");
    deps = systemDeps(config, openNodeDatabase(dbUrl), { authzSchema: "" });
    await deps.db.$client.execute("PRAGMA busy_timeout = 5000");
    sc = { deps, actor: { kind: "system" }, requestId: "req_e2e" };
    orgId = deps.ids.next("organization");
    const now = Date.now();
    await busy(() =>
      deps.db
        .insert(organizations)
        .values({ id: orgId, slug: "e2e", name: "e2e", createdAt: now, updatedAt: now }),
    );
  }, 90_000);

  afterAll(() => {
    deps?.db.$client.close();
  });

  const item = (id: string) => deps.db.query.workItems.findFirst({ where: eq(workItems.id, id) });

  it("enrolls, waits for approval, then claims, verifies, executes and reports; survives SIGKILL", async () => {
    const { secret } = await busy(() =>
      createEnrollmentToken(sc, { orgId, description: "e2e", scope: "lab", maxUses: 1 }),
    );
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", base, "--token", secret, "--state-dir", stateDir],
      agentEnv,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1];
    if (!hostId) throw new Error(`no host id in:\n${enroll.output()}`);
    expect((await busy(() => getHost(deps, hostId)))?.state).toBe("pending");

    let agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    context = () =>
      `agent:\n${agent.output()}\nserver errors:\n${server
        .output()
        .split("\n")
        .filter((l) => l.includes("error"))
        .join("\n")
        .slice(-4000)}`;
    await waitForOutput(agent, "waiting for approval", 30_000);
    await busy(() => decideHost(sc, hostId, "approve"));
    await waitForOutput(agent, "host approved", 30_000);

    // A noop item, picked up by the safety claim (the test's enqueue cannot ring the server).
    const noop = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: hostId },
        createdBy: "e2e",
      }),
    );
    const done = await until("noop result", async () => {
      const row = await item(noop.id);
      return row?.state === "succeeded" ? row : undefined;
    });
    expect(done.result).toMatchObject({ outcome: "succeeded", output: { noop: true } });

    // Progress lines reach the control plane while the item runs, not only with its result.
    const slow = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.sleep",
        resource: { kind: "host", id: hostId, uid: `${hostId}-progress` },
        params: { ms: 5000 },
        createdBy: "e2e",
      }),
    );
    const progress = await until("a progress line while the item runs", async () => {
      const events = await deps.db.select().from(workEvents).where(eq(workEvents.itemId, slow.id));
      return events.find((e) => e.kind === "progress");
    });
    expect(progress.detail).toMatchObject({ message: "sleeping" });
    expect((await item(slow.id))?.state).toBe("running");
    await until("the slow item's result", async () => {
      const row = await item(slow.id);
      return row?.state === "succeeded" ? row : undefined;
    });
    const lines = await deps.db.select().from(workEvents).where(eq(workEvents.itemId, slow.id));
    expect(lines.filter((e) => e.kind === "progress")).toHaveLength(1);
    await until("healthy", async () => {
      const h = await getHost(deps, hostId);
      return h?.health === "healthy" || h?.health === "warning" ? h : undefined;
    });

    // A second `run` on the same state directory (an upgrade that starts the new agent before
    // the old one exited) is refused: two would both resume the journal.
    const second = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    expect(await second.exited, second.output()).toBe(2);
    expect(second.output()).toContain("another strato-agent");

    // An op this agent does not run is refused before anything executes: a security rejection.
    const unknown = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "vm.create",
        resource: { kind: "vm", id: "vm_x", uid: "vm-x-uid" },
        params: { vcpus: 1 },
        createdBy: "e2e",
      }),
    );
    const refused = await until("rejection", async () => {
      const row = await item(unknown.id);
      return row?.state === "rejected" ? row : undefined;
    });
    expect(refused.rejectReason).toBe("unsupported_op");
    const audit = await busy(() =>
      deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, unknown.id)),
    );
    expect(audit).toMatchObject([{ action: "work_item.rejected_security", actorId: hostId }]);

    // A long item; kill -9 the agent while it runs, then start it again.
    const sleep = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.sleep",
        resource: { kind: "host", id: hostId, uid: `${hostId}-sleep` },
        params: { ms: 3000 },
        createdBy: "e2e",
      }),
    );
    await waitForOutput(agent, `"executing work item","itemId":"${sleep.id}"`, 30_000);
    killGroup(agent);
    await agent.exited;
    expect((await until("row", () => item(sleep.id)))?.state).not.toBe("succeeded");

    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    const finished = await until("sleep result after restart", async () => {
      const row = await item(sleep.id);
      return row?.state === "succeeded" ? row : undefined;
    });
    expect(finished.result).toMatchObject({ outcome: "succeeded", output: { slept: 3000 } });
    const results = await deps.db.select().from(workEvents).where(eq(workEvents.itemId, sleep.id));
    expect(results.filter((e) => e.kind === "result")).toHaveLength(1);
    expect(agent.output()).toContain("resuming journaled item");

    // Graceful shutdown (SIGTERM): the running item finishes and is reported; an item claimed
    // with it but not started yet is journaled and acked, and left to the next start.
    await stopGroup(agent);
    const running = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.sleep",
        resource: { kind: "host", id: hostId, uid: `${hostId}-graceful` },
        params: { ms: 2000 },
        createdBy: "e2e",
      }),
    );
    const claimedWithIt = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: `${hostId}-claimed-with-it` },
        createdBy: "e2e",
      }),
    );
    // And one that must start within seconds: by the next start it is too late (design §2.6).
    const startBy = Date.now() + 8_000;
    const tooLate = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: `${hostId}-too-late` },
        startByMs: startBy,
        createdBy: "e2e",
      }),
    );
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    await waitForOutput(agent, `"executing work item","itemId":"${running.id}"`, 30_000);
    signalGroup(agent, "SIGTERM");
    expect(await agent.exited, agent.output()).toBe(0);
    expect(agent.output()).toContain(
      `"work item done","itemId":"${running.id}","outcome":"succeeded"`,
    );
    expect(agent.output()).toContain(
      `"shutting down: work item left for the next start","itemId":"${claimedWithIt.id}"`,
    );
    expect(agent.output()).not.toContain(`"executing work item","itemId":"${claimedWithIt.id}"`);
    expect((await item(running.id))?.state).toBe("succeeded");
    expect((await item(claimedWithIt.id))?.state).toBe("accepted");
    expect((await item(tooLate.id))?.state).toBe("accepted");
    // Past its start_by and the agent's 30 s clock tolerance.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startBy + 31_000 - Date.now())));
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    await until("the item left at shutdown to run after the restart", async () => {
      const row = await item(claimedWithIt.id);
      return row?.state === "succeeded" ? row : undefined;
    });
    expect(agent.output()).toContain(`"resuming journaled item","itemId":"${claimedWithIt.id}"`);
    const lateRow = await until("the item too late to start to be refused", async () => {
      const row = await item(tooLate.id);
      return row?.state === "expired" ? row : undefined;
    });
    expect(lateRow.rejectReason).toBe("deadline");
    expect(agent.output()).not.toContain(`"executing work item","itemId":"${tooLate.id}"`);

    // An item cancelled while its agent was down (killed mid-run) is reported cancelled at the
    // next start, never run again.
    const killedMidRun = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.sleep",
        resource: { kind: "host", id: hostId, uid: `${hostId}-cancelled-while-down` },
        params: { ms: 30_000 },
        createdBy: "e2e",
      }),
    );
    await waitForOutput(agent, `"executing work item","itemId":"${killedMidRun.id}"`, 30_000);
    killGroup(agent);
    await agent.exited;
    expect(
      await busy(() =>
        cancelWork({ deps, actor: { kind: "system" }, requestId: "e2e" }, killedMidRun.id),
      ),
    ).toMatchObject({ cancelRequested: true });
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], agentEnv);
    const ended = await until("the item cancelled while the agent was down", async () => {
      const row = await item(killedMidRun.id);
      return row?.state === "cancelled" ? row : undefined;
    });
    expect(ended.result).toMatchObject({ outcome: "cancelled" });
    expect(agent.output()).not.toContain(`"executing work item","itemId":"${killedMidRun.id}"`);

    // Status goes out on change: with the periodic report an hour away, a finished item still
    // brings a fresh status (capacity and inventory) within seconds.
    await stopGroup(agent);
    const startedAt = Date.now();
    agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], {
      ...agentEnv,
      STRATO_AGENT_STATUS_MS: "3600000",
    });
    await until("the status sent at start", async () => {
      const at = (await getHost(deps, hostId))?.lastStatusAt ?? 0;
      return at >= startedAt ? at : undefined;
    });
    const change = await busy(() =>
      enqueueWork(deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: `${hostId}-change` },
        createdBy: "e2e",
      }),
    );
    const changed = await until("noop after restart", async () => {
      const row = await item(change.id);
      return row?.state === "succeeded" ? row : undefined;
    });
    const statusAfter = await until(
      "a status report after the item",
      async () => {
        const at = (await getHost(deps, hostId))?.lastStatusAt ?? 0;
        return at >= (changed.finishedAt ?? changed.updatedAt) ? at : undefined;
      },
      15_000,
    );
    expect(statusAfter).toBeGreaterThan(startedAt);

    // Revocation stops the agent with a non-zero exit.
    await busy(() => decideHost(sc, hostId, "revoke"));
    expect(await agent.exited).toBe(3);
  }, 180_000);
});

/**
 * Key rotation with overlap (design §2.8, §4.2 row 19): the control plane restarts with a new
 * signing key and the old one as "previous"; the running agent learns the new trust document from
 * the claim's `trust_version` and keeps working without re-enrolling.
 */
describe("strato-agent across a signing-key rotation", () => {
  const sandbox = processSandbox("strato-agent-rotate-");
  const dbUrl = `file:${join(sandbox.dataDir, "cp.db")}`;
  let deps: Deps | undefined;
  afterAll(() => deps?.db.$client.close());

  it("keeps executing after the control plane switches keys", async () => {
    const port = await freePort();
    const [oldKey, newKey] = [await generateSigningKey(), await generateSigningKey()];
    // The same trust root signs both trust documents: that is what spares the re-enrollment.
    const { STRATO_TRUST_ROOT_KEY } = await signingEnv();
    const start = (env: Record<string, string>) =>
      sandbox.spawn(TSX, ["src/entry/node.ts"], {
        PORT: String(port),
        DATABASE_URL: dbUrl,
        STRATO_TRUST_ROOT_KEY,
        ...env,
      });
    let server = start({ STRATO_SIGNING_KEY: oldKey.pem });
    await waitForOutput(server, "listening on", 60_000);
    const d = systemDeps(parseConfig({ DATABASE_URL: dbUrl }, "node"), openNodeDatabase(dbUrl), {
      authzSchema: "",
    });
    deps = d;
    const sc = { deps: d, actor: { kind: "system" as const }, requestId: "req_rot" };
    const orgId = d.ids.next("organization");
    await busy(() =>
      d.db.insert(organizations).values({
        id: orgId,
        slug: "rot",
        name: "rot",
        createdAt: Date.now(),
        updatedAt: Date.now(),
      }),
    );
    const { secret } = await busy(() =>
      createEnrollmentToken(sc, { orgId, description: "rot", scope: "lab", maxUses: 1 }),
    );
    const stateDir = join(sandbox.dataDir, "agent");
    const env = {
      STRATO_AGENT_CLAIM_MS: "1000",
      STRATO_AGENT_POLL_MS: "500",
      STRATO_AGENT_APPROVAL_POLL_MS: "300",
      STRATO_AGENT_MACHINE_ID: "0000000000000000000000000000beef",
    };
    const base = `http://127.0.0.1:${port}`;
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", base, "--token", secret, "--state-dir", stateDir],
      env,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
    await busy(() => decideHost(sc, hostId, "approve"));
    const agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    context = () => `agent:\n${agent.output()}`;
    await waitForOutput(agent, "host approved", 30_000);

    // Each run acts on its own resource uid: a second gen-1 item for the same uid is `superseded`.
    const runNoop = async (uid: string) => {
      const { id } = await busy(() =>
        enqueueWork(d, {
          hostId,
          op: "host.noop",
          resource: { kind: "host", id: hostId, uid },
          createdBy: "rot",
        }),
      );
      return until("noop", async () => {
        const row = await d.db.query.workItems.findFirst({ where: eq(workItems.id, id) });
        return row?.state === "succeeded" ? row : undefined;
      });
    };
    await runNoop("before-rotation");

    // Rotate: new active key, the old one kept for verification for a day, trust version 2.
    signalGroup(server, "SIGTERM");
    await waitForGroupExit(server, 15_000);
    server = start({
      STRATO_SIGNING_KEY: newKey.pem,
      STRATO_SIGNING_KEY_PREVIOUS: oldKey.publicJwk,
      STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER: String(Math.floor(Date.now() / 1000) + 86_400),
      STRATO_TRUST_VERSION: "2",
    });
    await waitForOutput(server, "listening on", 60_000);
    await runNoop("after-rotation");
    const claims = await busy(() =>
      d.db.select().from(workEvents).where(eq(workEvents.kind, "claimed")),
    );
    const kids = new Set(claims.map((e) => String(e.detail.kid)));
    expect(kids.size).toBe(2);
    expect(agent.output()).not.toContain("security: work item rejected");
    // The new trust document came signed by the root pinned at enrollment.
    expect(agent.output()).not.toContain("security: trust bundle refused");
  }, 120_000);
});
