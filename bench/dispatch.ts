/**
 * Work dispatch: `enqueueWork` → the item verified, journaled and acked by a real `strato-agent`.
 * Items are `host.noop` (STRATO_AGENT_TEST_OPS=1), timed from their `enqueued` to their `accepted`
 * work event (ms). The control plane runs in this process (loopback). Two runs:
 *  - wake-up (the agent's defaults: the doorbell WebSocket, 60 s safety claim; --wakeup long-poll
 *    refuses the socket so the agents long-poll `/wait`): each agent gets one item at a time,
 *    enqueued once it is back waiting, so the figure is dispatch latency without queueing;
 *  - polling only (STRATO_AGENT_WEBSOCKET=0, STRATO_AGENT_WAIT_S=0, STRATO_AGENT_CLAIM_MS=5000): items arrive at a steady
 *    rate (--poll-rate per second, spread over the agents) and wait for the next 5 s claim.
 * Also: a bare loopback round trip (GET /healthz) in the same run, how long the server takes to
 * answer the wake-up run's claims and acks, idle requests per agent per minute in both modes
 * (every request the server sees, counted per access token over --idle-s), and the agents' RSS
 * (VmRSS).
 * Agents run as `strato-agent` processes (--agent-mode process, the default up to 10 agents: each
 * is a Node process of ~120 MB) or as simulated agents (--agent-mode swarm, the default above 10):
 * the real agent code, one runtime per host, all in one Node process (bench/lib/agent-swarm.ts),
 * so 100 hosts on 2 cores measure the protocol, not 100 event loops fighting for the CPU.
 * Flags: --agents N (1), --agent-mode process|swarm, --items N (1000 wake-up items), --rate N
 * (wake-up items per second across all agents, arriving on a fixed schedule; default: closed loop,
 * one item per agent at a time, which with many agents measures saturation rather than latency),
 * --poll-items N (60), --poll-rate N (2 per second: an agent runs its items one after another, so
 * a faster rate measures queueing behind each 5 s claim), --idle-s N (20), --rtt-ms N (0: the
 * agents and the bare round trip reach the control plane through a proxy that adds this round
 * trip, bench/lib/delay-proxy.ts, to see dispatch over a network rather than loopback).
 * Targets (issue): wake-up p99 <= 100 ms and <= 5x the bare round trip.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, inArray } from "drizzle-orm";
import { ControlPlaneClient } from "../agent/src/client";
import { loadIdentity, loadKey } from "../agent/src/state";
import { workEvents } from "../src/db/schema";
import { enqueueWork } from "../src/domain/work/enqueue";
import { type BenchAgent, enrollAgents, startAgents, startSwarm, stopAgents } from "./lib/agents";
import { benchArgs, intFlag } from "./lib/args";
import { type ControlPlane, commitP50Ms, seedTenant, startControlPlane } from "./lib/control-plane";
import { DelayProxy } from "./lib/delay-proxy";
import { rssMiB, sleep } from "./lib/processes";
import { summarize } from "./lib/stats";

const flags = benchArgs("dispatch", {
  agents: { type: "string" },
  items: { type: "string" },
  "poll-items": { type: "string" },
  "poll-rate": { type: "string" },
  "idle-s": { type: "string" },
  wakeup: { type: "string" },
  "agent-mode": { type: "string" },
  rate: { type: "string" },
  "rtt-ms": { type: "string" },
});
const AGENTS = intFlag(flags.agents, 1, "agents");
const ITEMS = intFlag(flags.items, 1000, "items");
const RATE = flags.rate === undefined ? undefined : intFlag(flags.rate, 1, "rate");
const AGENT_MODE = flags["agent-mode"] ?? (AGENTS > 10 ? "swarm" : "process");
if (AGENT_MODE !== "process" && AGENT_MODE !== "swarm") {
  throw new Error("--agent-mode is process or swarm");
}
const start = (agents: BenchAgent[], env: Record<string, string> = {}) =>
  AGENT_MODE === "swarm" ? startSwarm(agents, env) : startAgents(agents, env);
const POLL_ITEMS = intFlag(flags["poll-items"], 60, "poll-items");
const POLL_RATE = intFlag(flags["poll-rate"], 2, "poll-rate");
const IDLE_S = intFlag(flags["idle-s"], 20, "idle-s");
const RTT_MS = intFlag(flags["rtt-ms"], 0, "rtt-ms");
const BARE_N = 2_000;
const WAKEUP = flags.wakeup ?? "websocket";
if (WAKEUP !== "websocket" && WAKEUP !== "long-poll") {
  throw new Error("--wakeup is websocket or long-poll");
}

/** Production timings except approval, which the bench does not want to wait 30 s for. */
const AGENT_ENV = { STRATO_AGENT_TEST_OPS: "1", STRATO_AGENT_APPROVAL_POLL_MS: "300" };
/** Polling only: no socket, no long poll; a claim every 5 s (with WAIT_S=0 the claim timer is the poll). */
const POLLING_ENV = {
  STRATO_AGENT_WEBSOCKET: "0",
  STRATO_AGENT_WAIT_S: "0",
  STRATO_AGENT_CLAIM_MS: "5000",
  STRATO_AGENT_POLL_MS: "5000",
};

const ITEM_PATH = /^\/api\/v1\/agent\/items\/(wi_[0-9a-z]+)\/(ack|result)$/;

/** What the bench sees of the agents' requests (an observer on the in-process server). */
class AgentTraffic {
  /** Item id → the access token whose `result` was answered, and when (performance.now()). */
  readonly #results = new Map<string, { token: string; at: number }>();
  /** Access token → when its latest `/wait` arrived (performance.now()). */
  readonly #waits = new Map<string, number>();
  #counting: Map<string, number> | undefined;
  /** While timing: how long the server took to answer each claim and ack (ms). */
  #serverMs: { claim: number[]; ack: number[] } | undefined;

  attach(cp: ControlPlane): void {
    cp.observers.add((request, response) => {
      const url = new URL(request.url);
      if (!url.pathname.startsWith("/api/v1/agent/")) return;
      const token = request.headers.get("authorization") ?? "";
      if (this.#counting) this.#counting.set(token, (this.#counting.get(token) ?? 0) + 1);
      if (url.pathname.endsWith("/wait")) this.#waits.set(token, performance.now());
      const m = ITEM_PATH.exec(url.pathname);
      const timing = this.#serverMs;
      const step = url.pathname.endsWith("/claim") ? "claim" : m?.[2] === "ack" ? "ack" : undefined;
      if (timing && step) {
        const started = performance.now();
        void response.then(() => timing[step].push(performance.now() - started));
      }
      if (m?.[2] === "result") {
        const itemId = m[1] ?? "";
        void response.then((r) => {
          if (r.ok) this.#results.set(itemId, { token, at: performance.now() });
        });
      }
    });
  }

  /** Waits until the item's result was answered; the agent's access token and when. */
  async result(itemId: string, timeoutMs: number): Promise<{ token: string; at: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const answered = this.#results.get(itemId);
      if (answered !== undefined) return answered;
      if (performance.now() > deadline) throw new Error(`no result for ${itemId}`);
      await sleep(1);
    }
  }

  /** Waits (up to `timeoutMs`) for that agent's next `/wait` after `since`. */
  async longPollAfter(token: string, since: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while ((this.#waits.get(token) ?? 0) <= since && performance.now() < deadline) await sleep(1);
  }

  /** Starts timing the server's answers to claims and acks. */
  startTiming(): void {
    this.#serverMs = { claim: [], ack: [] };
  }

  stopTiming(): { claim: number[]; ack: number[] } {
    const timed = this.#serverMs ?? { claim: [], ack: [] };
    this.#serverMs = undefined;
    return timed;
  }

  startCounting(): void {
    this.#counting = new Map();
  }

  /** Requests per access token since startCounting. */
  stopCounting(): number[] {
    const counts = [...(this.#counting?.values() ?? [])];
    this.#counting = undefined;
    return counts;
  }
}

/** Enqueue → accepted (ms) of each item, and the enqueue → claimed part, from the work events. */
async function acceptLatencies(cp: ControlPlane, ids: string[]) {
  const out: number[] = [];
  const claimed: number[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await cp.deps.db
      .select({ itemId: workEvents.itemId, kind: workEvents.kind, at: workEvents.at })
      .from(workEvents)
      .where(
        and(
          inArray(workEvents.itemId, ids.slice(i, i + 500)),
          inArray(workEvents.kind, ["enqueued", "claimed", "accepted"]),
        ),
      );
    const times = new Map<string, { enqueued?: number; claimed?: number; accepted?: number }>();
    for (const r of rows) {
      const t = times.get(r.itemId) ?? {};
      if (r.kind === "enqueued" || r.kind === "claimed" || r.kind === "accepted") {
        t[r.kind] ??= r.at;
      }
      times.set(r.itemId, t);
    }
    for (const t of times.values()) {
      if (t.enqueued === undefined || t.accepted === undefined) continue;
      out.push(t.accepted - t.enqueued);
      if (t.claimed !== undefined) claimed.push(t.claimed - t.enqueued);
    }
  }
  if (out.length !== ids.length) throw new Error(`${ids.length - out.length} items not accepted`);
  return { accepted: summarize(out), claimed: summarize(claimed) };
}

async function noop(cp: ControlPlane, hostId: string, uid: string): Promise<string> {
  const { id } = await enqueueWork(cp.deps, {
    hostId,
    op: "host.noop",
    resource: { kind: "host", id: hostId, uid },
    createdBy: "bench",
  });
  return id;
}

/** Counts the agents' requests over the idle window; requests per agent per minute (mean, max). */
async function idleRequests(traffic: AgentTraffic, agents: number) {
  traffic.startCounting();
  await sleep(IDLE_S * 1000);
  const counts = traffic.stopCounting();
  const perMin = (n: number) => Math.round(((n * 60) / IDLE_S) * 10) / 10;
  const total = counts.reduce((a, b) => a + b, 0);
  return { mean: perMin(total / agents), max: perMin(Math.max(0, ...counts)) };
}

/** RSS per agent: each process's, or the swarm's shared among its agents. */
function rssOf(agents: BenchAgent[]) {
  const share = AGENT_MODE === "swarm" ? agents.length : 1;
  const values = agents
    .map((a) => rssMiB(a.proc?.child.pid) / share)
    .filter((v) => !Number.isNaN(v));
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const tenth = (v: number) => Math.round(v * 10) / 10;
  return { mean: tenth(mean), max: tenth(Math.max(0, ...values)) };
}

/**
 * The floor a dispatch is built from: one authenticated agent request with one database write,
 * sent by the agent's own client with the first agent's key (a dispatch makes two: claim and ack).
 */
async function agentCallRoundTrip(agent: BenchAgent | undefined) {
  const identity = agent && loadIdentity(agent.stateDir);
  if (!agent || !identity) throw new Error("no enrolled agent");
  const client = new ControlPlaneClient(identity.url);
  client.identity = {
    hostId: identity.host_id,
    issuer: identity.issuer,
    key: await loadKey(agent.stateDir),
  };
  const samples: number[] = [];
  try {
    for (let i = 0; i < 520; i++) {
      const t = performance.now();
      await client.send("POST", "/heartbeat", { body: {} });
      if (i >= 20) samples.push(performance.now() - t);
    }
  } finally {
    await client.close();
  }
  return summarize(samples);
}

const dir = mkdtempSync(join(tmpdir(), "strato-bench-dispatch-"));
let cp: ControlPlane | undefined;
let proxy: DelayProxy | undefined;
let agents: BenchAgent[] = [];
try {
  const setupStart = performance.now();
  cp = await startControlPlane(dir, {}, { websockets: WAKEUP === "websocket" });
  const plane = cp;
  const traffic = new AgentTraffic();
  traffic.attach(plane);
  const tenant = await seedTenant(plane.deps);
  proxy = RTT_MS > 0 ? await DelayProxy.start(plane.base, RTT_MS) : undefined;
  const agentBase = proxy?.base ?? plane.base;
  agents = await enrollAgents(plane, tenant, {
    count: AGENTS,
    dir,
    env: AGENT_ENV,
    url: agentBase,
  });
  await start(agents);
  console.log(
    `dispatch: ${AGENTS} agent(s) (${AGENT_MODE}) enrolled and running in ` +
      `${((performance.now() - setupStart) / 1000).toFixed(1)} s (control plane ${plane.base}` +
      `${proxy ? `, reached through a proxy adding a ${RTT_MS} ms round trip` : ""})`,
  );

  // A bare round trip on the same server and path: GET /healthz (no I/O), after a warm-up.
  const bare: number[] = [];
  for (let i = 0; i < BARE_N + 200; i++) {
    const t = performance.now();
    await (await fetch(`${agentBase}/healthz`)).arrayBuffer();
    if (i >= 200) bare.push(performance.now() - t);
  }
  const b = summarize(bare);
  const commitMs = await commitP50Ms(dir);
  const call = await agentCallRoundTrip(agents[0]);
  console.log(
    `  bare ${proxy ? `round trip (through the ${RTT_MS} ms proxy)` : "loopback round trip"} GET /healthz: p50 ${b.p50} ms, p99 ${b.p99} ms; ` +
      `one agent API call (POST /heartbeat through the agent's client: token check and one ` +
      `write): p50 ${call.p50} ms, p99 ${call.p99} ms; one write commit to a database file ` +
      `here: p50 ${commitMs} ms`,
  );

  // Wake-up: one item per agent at a time, each enqueued once its agent is back waiting.
  const perAgent = Math.ceil(ITEMS / AGENTS);
  for (const [k, agent] of agents.entries()) await noop(plane, agent.hostId, `warm-${k}`);
  await sleep(1000);
  const wakeIds: string[] = [];
  traffic.startTiming();
  let wallStart = performance.now();
  if (RATE === undefined) {
    await Promise.all(
      agents.map(async (agent, k) => {
        for (let i = 0; i < perAgent; i++) {
          const id = await noop(plane, agent.hostId, `wake-${k}-${i}`);
          wakeIds.push(id);
          const answered = await traffic.result(id, 30_000);
          // Back waiting: a new long poll arrives, or (socket) the agent is idle again at once.
          if (WAKEUP === "long-poll") {
            await traffic.longPollAfter(answered.token, answered.at, 1_000);
          } else await sleep(2);
        }
      }),
    );
  } else {
    // Open loop: items arrive on a fixed schedule, round robin over the agents.
    const gap = 1000 / RATE;
    for (let i = 0; i < ITEMS; i++) {
      const due = wallStart + i * gap;
      if (due > performance.now()) await sleep(due - performance.now());
      const agent = agents[i % AGENTS];
      if (agent) wakeIds.push(await noop(plane, agent.hostId, `wake-${i}`));
    }
    for (const id of wakeIds) await traffic.result(id, 60_000);
  }
  const serverMs = traffic.stopTiming();
  const serverClaim = summarize(serverMs.claim);
  const serverAck = summarize(serverMs.ack);
  const { accepted: wake, claimed: wakeClaimed } = await acceptLatencies(plane, wakeIds);
  console.log(
    `  wake-up (${WAKEUP}, ${RATE === undefined ? "closed loop" : `${RATE}/s`}): enqueue → accepted p50 ${wake.p50} ms, p99 ${wake.p99} ms, max ${wake.max} ms ` +
      `(${wakeIds.length} items in ${((performance.now() - wallStart) / 1000).toFixed(1)} s; ` +
      `work_events times are whole ms); of which enqueue → claimed p50 ${wakeClaimed.p50} ms, ` +
      `p99 ${wakeClaimed.p99} ms`,
  );
  console.log(
    `  server time to answer (wake-up run): claim p50 ${serverClaim.p50} ms, p99 ` +
      `${serverClaim.p99} ms; ack p50 ${serverAck.p50} ms, p99 ${serverAck.p99} ms`,
  );
  const wakeIdle = await idleRequests(traffic, AGENTS);
  const wakeRss = rssOf(agents);
  console.log(
    `  wake-up idle: ${wakeIdle.mean} requests/agent/min (max ${wakeIdle.max}) over ${IDLE_S} s; ` +
      `agent RSS ${wakeRss.mean} MiB (max ${wakeRss.max})`,
  );

  // Polling only: restart the agents without the long poll.
  await stopAgents(agents);
  await start(agents, POLLING_ENV);
  const pollIds: string[] = [];
  const gapMs = 1000 / POLL_RATE;
  wallStart = performance.now();
  for (let i = 0; i < POLL_ITEMS; i++) {
    const due = wallStart + i * gapMs;
    if (due > performance.now()) await sleep(due - performance.now());
    const agent = agents[i % AGENTS];
    if (agent) pollIds.push(await noop(plane, agent.hostId, `poll-${i}`));
  }
  for (const id of pollIds) await traffic.result(id, 30_000);
  const { accepted: poll } = await acceptLatencies(plane, pollIds);
  console.log(
    `  polling only (5 s claims): enqueue → accepted p50 ${poll.p50} ms, p99 ${poll.p99} ms ` +
      `(${pollIds.length} items at ${POLL_RATE}/s)`,
  );
  const pollIdle = await idleRequests(traffic, AGENTS);
  const pollRss = rssOf(agents);
  console.log(
    `  polling idle: ${pollIdle.mean} requests/agent/min (max ${pollIdle.max}); ` +
      `agent RSS ${pollRss.mean} MiB (max ${pollRss.max})`,
  );

  const ratio = Math.round((wake.p99 / b.p99) * 10) / 10;
  const ratio50 = Math.round((wake.p50 / b.p50) * 10) / 10;
  const callRatio = Math.round((wake.p50 / call.p50) * 10) / 10;
  console.log(
    `  targets: wake-up p99 <= 100 ms ${wake.p99 <= 100 ? "met" : "not met"}; ` +
      `<= 5x bare p99 (${ratio}x) ${ratio <= 5 ? "met" : "not met"} (p50 over p50: ${ratio50}x; ` +
      `over one agent API call: ${callRatio}x)`,
  );
  if (plane.problems() > 0)
    console.log(`  control plane logged ${plane.problems()} warnings/errors`);
  console.log(
    JSON.stringify({
      agents: AGENTS,
      agent_mode: AGENT_MODE,
      added_rtt_ms: RTT_MS,
      wake_rate_per_s: RATE ?? null,
      items: wakeIds.length,
      wake_p50_ms: wake.p50,
      wake_p99_ms: wake.p99,
      poll_p50_ms: poll.p50,
      poll_p99_ms: poll.p99,
      bare_rtt_p50_ms: b.p50,
      bare_rtt_p99_ms: b.p99,
      wake_p99_over_bare_p99: ratio,
      wake_p50_over_bare_p50: ratio50,
      agent_call_p50_ms: call.p50,
      agent_call_p99_ms: call.p99,
      wake_p50_over_agent_call_p50: callRatio,
      server_claim_p50_ms: serverClaim.p50,
      server_claim_p99_ms: serverClaim.p99,
      server_ack_p50_ms: serverAck.p50,
      server_ack_p99_ms: serverAck.p99,
      idle_req_per_agent_min_wake: wakeIdle.mean,
      idle_req_per_agent_min_poll: pollIdle.mean,
      agent_rss_mib: wakeRss.mean,
      commit_p50_ms: commitMs,
    }),
  );
} finally {
  await stopAgents(agents);
  await proxy?.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
}
