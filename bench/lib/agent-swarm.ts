/**
 * Simulated agents for the benches: many enrolled agents in one Node process, each the real agent
 * code (`assembleAgent`: its own key, client, journal file, doorbell socket and runtime), so a
 * 100-host run measures the protocol rather than 100 Node start-ups and event loops on 2 cores.
 * Usage: `tsx bench/lib/agent-swarm.ts STATE_DIR...`; settings come from the environment
 * (STRATO_AGENT_*), as for `strato-agent run`. Logs JSON lines; SIGTERM stops every agent.
 */
import { type AssembledAgent, assembleAgent } from "../../agent/src/assemble";
import { resolveSettings } from "../../agent/src/config";
import { jsonLog } from "../../agent/src/log";

const log = jsonLog();
const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write("usage: agent-swarm STATE_DIR...\n");
  process.exit(2);
}

const agents: AssembledAgent[] = [];
for (const [i, dir] of dirs.entries()) {
  const { settings } = resolveSettings(
    { "state-dir": dir, "machine-id": `swarm-agent-${String(i).padStart(4, "0")}` },
    process.env,
  );
  const agent = await assembleAgent(settings, log);
  if ("exitCode" in agent) {
    log.error("swarm agent cannot run", { stateDir: dir, exitCode: agent.exitCode });
    process.exit(agent.exitCode);
  }
  agents.push(agent);
}

process.once("SIGTERM", () => {
  for (const agent of agents) void agent.runtime.stop(0);
});
log.info("swarm starting", { agents: agents.length });
const codes = await Promise.all(
  agents.map(async (agent) => {
    await agent.runtime.run();
    await agent.close();
    return agent.runtime.exitCode;
  }),
);
process.exit(Math.max(0, ...codes));
