import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hosts } from "../../src/db/schema";
import { processSandbox } from "../support/processes";
import { type Lab, type LabAgent, startLab } from "../support/protocol-lab";
import { generateSigningKey, type TestSigningKey } from "../support/signing";

const CLI = fileURLToPath(new URL("../../bin/strato", import.meta.url));

/** `strato …` as an operator runs it on the offline machine; fails the test unless it exits 0. */
function strato(args: string[]): string {
  const run = spawnSync(CLI, args, { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout.trim();
}

/**
 * Design §2.2: the trust root stays offline. The operator makes it and signs a bundle with the
 * CLI, the control plane serves that bundle (STRATO_TRUST_BUNDLE, no root key online), and the
 * real agent pins the root at enrollment and runs items under the keys the bundle lists.
 */
describe("a trust bundle signed offline with `strato trust sign`", () => {
  const sandbox = processSandbox("strato-trust-bundle-");
  let lab: Lab;
  let signingKey: TestSigningKey;
  let agent: LabAgent;
  const rootPublic = join(sandbox.dataDir, "root.pub.jwk");

  beforeAll(async () => {
    signingKey = await generateSigningKey();
    const signingPublic = join(sandbox.dataDir, "signing.pub.jwk");
    writeFileSync(signingPublic, signingKey.publicJwk);
    const rootFile = join(sandbox.dataDir, "root.jwk");
    writeFileSync(rootPublic, strato(["trust", "root-key", "--out", rootFile]));
    const bundle = strato([
      "trust",
      "sign",
      "--root-key",
      rootFile,
      "--version",
      "3",
      "--key",
      signingPublic,
    ]);
    lab = await startLab(sandbox, { STRATO_TRUST_BUNDLE: bundle }, { signingKey });
  }, 180_000);
  afterAll(() => lab?.close());

  it("an agent given the root out of band enrolls, pins it and runs an item", async () => {
    agent = await lab.agent("bundle-host", { STRATO_AGENT_TRUST_ROOT: rootPublic });
    const identity = JSON.parse(readFileSync(join(agent.stateDir, "identity.json"), "utf8"));
    expect(identity.trust_root).toEqual(JSON.parse(readFileSync(rootPublic, "utf8")));
    expect(agent.lines().find((l) => l.msg === "host approved")).toMatchObject({
      trustVersion: 3,
    });
    const item = await lab.enqueue(agent.hostId);
    expect(await lab.settled(item.id, ["succeeded", "rejected"])).toMatchObject({
      state: "succeeded",
    });
    expect(agent.lines().some((l) => l.msg === "security: trust bundle refused")).toBe(false);
  }, 90_000);

  it("an agent configured with another trust root refuses to enroll (or to run), and says why", async () => {
    const other = await generateSigningKey();
    const stateDir = join(sandbox.dataDir, "mismatch");
    const token = await lab.enrollmentToken(); // one use
    const enroll = lab.agentCommand(
      ["enroll", "--url", lab.base, "--token", token, "--state-dir", stateDir],
      {
        STRATO_AGENT_MACHINE_ID: "7275737400000000000000000000beef",
        STRATO_AGENT_TRUST_ROOT: other.publicJwk,
      },
    );
    expect(await enroll.exited, enroll.output()).toBe(4);
    expect(enroll.output()).toContain(
      "enrollment refused: the control plane's trust root is not the configured trust_root; nothing was recorded",
    );
    expect(existsSync(join(stateDir, "identity.json"))).toBe(false);
    // The control plane checked before recording anything: no pending host, the token unused.
    const hostsOfMachine = await lab.deps.db
      .select()
      .from(hosts)
      .where(eq(hosts.machineId, "7275737400000000000000000000beef"));
    expect(hostsOfMachine).toEqual([]);
    const again = lab.agentCommand(
      ["enroll", "--url", lab.base, "--token", token, "--state-dir", join(sandbox.dataDir, "ok")],
      { STRATO_AGENT_MACHINE_ID: "7275737400000000000000000000beef" },
    );
    expect(await again.exited, again.output()).toBe(0);

    // A pinned root changes only by enrolling again: `run` refuses a different setting.
    const run = lab.agentCommand(["run", "--state-dir", agent.stateDir], {
      STRATO_AGENT_TRUST_ROOT: other.publicJwk,
    });
    expect(await run.exited, run.output()).toBe(2);
    expect(run.output()).toContain("trust_root differs from the root pinned at enrollment");
  }, 60_000);

  it("a control plane whose signing key the bundle does not list refuses agents (503)", async () => {
    await lab.crashAndRestartServer({ STRATO_SIGNING_KEY: (await generateSigningKey()).pem });
    expect(lab.server.output()).toContain("does not list the active signing key");
    const before = agent.lines().length;
    const refused = await lab.until("the agent's claim to be refused", async () =>
      agent
        .lines()
        .slice(before)
        .find((l) => l.msg === "claim failed" && String(l.error).includes("503 not_ready")),
    );
    expect(refused).toBeDefined();
  }, 120_000);
});
