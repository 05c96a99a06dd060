import { existsSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DROP } from "../support/agent-proxy";
import { processSandbox, stopGroup } from "../support/processes";
import { type Lab, type LabAgent, startLab } from "../support/protocol-lab";

const KEYS_PATH = "/api/v1/agent/keys";

/**
 * Agent key rotation with real processes (design §2.8): `strato-agent rotate-key`, a rotation
 * whose answer is lost, and the automatic rotation of an old key, against the Node control plane.
 * The old key's overlap is 2 s here (10 minutes by default).
 */
describe("strato-agent key rotation", () => {
  const sandbox = processSandbox("strato-key-rotation-");
  let lab: Lab;
  let agent: LabAgent;

  beforeAll(async () => {
    lab = await startLab(sandbox, { STRATO_AGENT_KEY_OVERLAP_S: "2" });
    agent = await lab.agent("rotating-host");
  }, 180_000);
  afterAll(() => lab?.close());

  const rotateKeyCommand = () => lab.agentCommand(["rotate-key", "--state-dir", agent.stateDir]);
  const nextKeyFile = () => join(agent.stateDir, "agent-key.next.pem");
  const runsAnItem = async () => {
    const item = await lab.enqueue(agent.hostId);
    await lab.settled(item.id, ["succeeded"]);
  };
  const restartAgent = async () => {
    await stopGroup(agent.process());
    agent.start();
  };

  it("rotate-key: same host, new key; after the overlap only the new key gets in", async () => {
    const rotate = rotateKeyCommand();
    expect(await rotate.exited, rotate.output()).toBe(0);
    expect(rotate.output()).toContain('"msg":"agent key rotated"');
    expect(existsSync(nextKeyFile())).toBe(false);
    const audit = await lab.audit("host.key_rotated");
    expect(audit.filter((e) => e.targetId === agent.hostId)).toHaveLength(1);
    // Past the overlap a restarted agent signs in with the new key file and works on.
    await new Promise((r) => setTimeout(r, 2_500));
    await restartAgent();
    await runsAnItem();
  }, 90_000);

  it("a rotation whose answer is lost: the next key is kept, and signs the agent in once the old one is refused", async () => {
    let dropped = false;
    const allow = agent.proxy.use(async (request, next) => {
      if (dropped || request.path !== KEYS_PATH) return next(request);
      const outcome = await next(request);
      dropped = true;
      return outcome === DROP ? outcome : DROP;
    });
    const rotate = rotateKeyCommand();
    expect(await rotate.exited, rotate.output()).toBe(1);
    allow();
    // The control plane took the key, the agent never heard: the next key file stays.
    expect(dropped).toBe(true);
    expect(existsSync(nextKeyFile())).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500));
    await restartAgent();
    await runsAnItem();
    expect(existsSync(nextKeyFile())).toBe(false);
    expect(
      (await lab.audit("host.key_rotated")).filter((e) => e.targetId === agent.hostId),
    ).toHaveLength(2);
  }, 90_000);

  it("a running agent replaces a key older than key_rotation_days by itself", async () => {
    await stopGroup(agent.process());
    const monthAgo = new Date(Date.now() - 31 * 86_400_000);
    utimesSync(join(agent.stateDir, "agent-key.pem"), monthAgo, monthAgo);
    const run = agent.start();
    await lab.until("the automatic rotation", async () =>
      run.output().includes('"msg":"agent key rotated"') ? true : undefined,
    );
    await runsAnItem();
    expect(
      (await lab.audit("host.key_rotated")).filter((e) => e.targetId === agent.hostId),
    ).toHaveLength(3);
  }, 90_000);
});
