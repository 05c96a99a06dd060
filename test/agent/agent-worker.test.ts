import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { organizations, workItems } from "../../src/db/schema";
import { type Deps, systemDeps } from "../../src/deps";
import { createEnrollmentToken } from "../../src/domain/hosts/create-enrollment-token";
import { decideHost } from "../../src/domain/hosts/transition";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { openNodeDatabase } from "../../src/node/database";
import { freePort, processSandbox, waitForOutput } from "../support/processes";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");

/**
 * The real agent against the Worker under Miniflare (`npm run dev`): signing key from the dev
 * runner, long polls answered through the HostDoorbell Durable Object.
 */
describe("strato-agent against the Worker (npm run dev)", () => {
  const sandbox = processSandbox("strato-agent-worker-");
  let deps: Deps | undefined;
  afterAll(() => deps?.db.$client.close());

  it("enrolls, is approved and executes a noop through the Worker", {
    timeout: 240_000,
  }, async () => {
    const [port, dbPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
    const dev = sandbox.spawn("npm", ["run", "-s", "dev"], {
      STRATO_PORT: String(port),
      STRATO_DB_PORT: String(dbPort),
      STRATO_INSPECTOR_PORT: String(inspectorPort),
      STRATO_DATA_DIR: join(sandbox.dataDir, "cp"),
    });
    await waitForOutput(dev, "Strato is ready", 90_000);
    const base = `http://127.0.0.1:${port}`;
    const dbUrl = `http://127.0.0.1:${dbPort}`;
    const d = systemDeps(parseConfig({ DATABASE_URL: dbUrl }, "node"), openNodeDatabase(dbUrl), {
      authzSchema: "",
    });
    deps = d;
    const sc = { deps: d, actor: { kind: "system" as const }, requestId: "req_worker" };
    const orgId = d.ids.next("organization");
    await d.db
      .insert(organizations)
      .values({ id: orgId, slug: "wk", name: "wk", createdAt: Date.now(), updatedAt: Date.now() });
    const { secret } = await createEnrollmentToken(sc, {
      orgId,
      description: "worker",
      scope: "lab",
      maxUses: 1,
    });

    const stateDir = join(sandbox.dataDir, "agent");
    const env = {
      STRATO_AGENT_APPROVAL_POLL_MS: "300",
      STRATO_AGENT_WAIT_S: "2",
      STRATO_AGENT_MACHINE_ID: "feed0000000000000000000000000001",
    };
    const enroll = sandbox.spawn(
      AGENT,
      ["enroll", "--url", base, "--token", secret, "--state-dir", stateDir],
      env,
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
    const agent = sandbox.spawn(AGENT, ["run", "--state-dir", stateDir], env);
    await waitForOutput(agent, "waiting for approval", 30_000);
    await decideHost(sc, hostId, "approve");
    await waitForOutput(agent, "host approved", 30_000);

    const { id } = await enqueueWork(d, {
      hostId,
      op: "host.noop",
      resource: { kind: "host", id: hostId, uid: hostId },
      createdBy: "worker-test",
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const row = await d.db.query.workItems.findFirst({ where: eq(workItems.id, id) });
      if (row?.state === "succeeded") break;
      if (Date.now() > deadline)
        throw new Error(`not done:\n${agent.output()}\n${dev.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    // The long polls went through the Durable Object without errors.
    expect(agent.output()).not.toContain("long poll failed");
  });
});
