import { freemem, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { PublicJwk } from "../../src/protocol/trust";
import { ControlPlaneClient } from "./client";
import { type AgentSettings, UsageError } from "./config";
import { defaultExecutor } from "./executor";
import { AGENT_VERSION, collectFacts } from "./facts";
import { FileJournal } from "./journal-file";
import { armKeyFallback, scheduleKeyRotation } from "./key-rotation";
import type { AgentLog } from "./log";
import { executorHandlers, VM_OP_NAMES, vmOpHandlers } from "./ops";
import { AgentRuntime } from "./runtime";
import { type Identity, JOURNAL_FILE, loadIdentity, loadKey } from "./state";
import { lockStateDir, StateDirBusy } from "./state-lock";
import { readTrustRoot, sameRoot, TrustRootError } from "./trust";
import { openVmHost } from "./vm-host";

/** An enrolled agent, ready to `run()`: its runtime and what to close once that returns. */
export type AssembledAgent = {
  runtime: AgentRuntime;
  hostId: string;
  url: string;
  ops: string[];
  close(): Promise<void>;
};

/**
 * The state directory of an enrolled agent and the identity `enroll` left there; undefined (and
 * logged) when the directory holds no enrollment.
 */
export function loadEnrolledState(
  settings: AgentSettings,
  command: "run" | "rotate-key",
  log: AgentLog,
): { dir: string; identity: Identity } | undefined {
  if (!settings.state_dir) throw new UsageError(`${command} needs a state directory (--state-dir)`);
  const dir = resolve(settings.state_dir);
  const identity = loadIdentity(dir);
  if (!identity) {
    log.error("not enrolled: run `strato-agent enroll` first", { stateDir: dir });
    return undefined;
  }
  return { dir, identity };
}

/** A client signed in as the enrolled host with its key, falling back to a rotation's keys. */
export async function enrolledClient(dir: string, identity: Identity): Promise<ControlPlaneClient> {
  const key = await loadKey(dir);
  const client = new ControlPlaneClient(identity.url);
  client.identity = { hostId: identity.host_id, issuer: identity.issuer, key };
  armKeyFallback(client, dir);
  return client;
}

/**
 * Builds an enrolled agent from its settings: identity, pinned trust root, key, client, journal,
 * hypervisor, executor and runtime. `strato-agent run` is this plus signals; the dispatch bench
 * runs many of these in one process. Returns an exit code when the state cannot run.
 */
export async function assembleAgent(
  settings: AgentSettings,
  log: AgentLog,
): Promise<AssembledAgent | { exitCode: number }> {
  const enrolled = loadEnrolledState(settings, "run", log);
  if (!enrolled) return { exitCode: 2 };
  const { dir, identity } = enrolled;
  const trustRoot = pinnedRoot(identity.trust_root, settings.trust_root);
  if (!trustRoot) {
    log.error(
      "no trust root pinned (enrolled by an older agent): enroll again, or set trust_root",
      {
        stateDir: dir,
      },
    );
    return { exitCode: 2 };
  }
  let release: () => void;
  try {
    release = lockStateDir(dir);
  } catch (error) {
    if (!(error instanceof StateDirBusy)) throw error;
    log.error(error.message, { stateDir: dir });
    return { exitCode: 2 };
  }
  const client = await enrolledClient(dir, identity);
  // Seen jtis are kept by the control plane's clock, the one their tokens are checked against.
  const journal = new FileJournal(join(dir, JOURNAL_FILE), () => client.now());
  const vmHost = await openVmHost(
    {
      stateDir: dir,
      chBinary: settings.ch_binary,
      boot: settings.kernel
        ? { kind: "kernel", kernel: settings.kernel, cmdline: settings.cmdline }
        : { kind: "firmware", firmware: settings.firmware },
      bridge: settings.bridge,
      imageCacheBytes: Math.round(settings.image_cache_gb * 1024 ** 3),
      consoleLogBytes: Math.round(settings.console_log_mb * 1024 ** 2),
      simulatorEnv: simulatorEnv(process.env),
    },
    log,
  );
  const facts = await collectFacts({
    stateDir: dir,
    machineId: settings.machine_id,
    chBinary: vmHost.binary,
  });
  const executor = defaultExecutor({
    testOps: settings.test_ops,
  });
  const vmHandlers = executorHandlers(vmOpHandlers(vmHost.ops));
  for (const op of VM_OP_NAMES) executor.register(op, 1, vmHandlers[op]);
  // Simulating on purpose (development) is not a problem of the host; falling back to it is.
  const simulatedOnPurpose = vmHost.simulated && settings.simulator === "expected";
  const problems = [
    ...(facts.kvm || simulatedOnPurpose ? [] : ["/dev/kvm is missing"]),
    ...(vmHost.simulated && !simulatedOnPurpose
      ? ["VMs run in the Cloud Hypervisor simulator"]
      : []),
    ...vmHost.warnings.map((w) => w.message),
  ];
  const chVersion =
    facts.ch_version && `${facts.ch_version}${vmHost.simulated ? " (simulator)" : ""}`;
  const runtime = new AgentRuntime(client, journal, executor, log, {
    hostId: identity.host_id,
    issuer: identity.issuer,
    trustRoot,
    heartbeatMs: settings.heartbeat_ms,
    statusMs: settings.status_ms,
    claimMs: settings.claim_ms,
    pollMs: settings.poll_ms,
    waitS: settings.wait_s,
    websocket: settings.websocket,
    approvalPollMs: settings.approval_poll_ms,
    sessionConflict: {
      retryMs: settings.session_conflict_retry_ms,
      exitMs: settings.session_conflict_exit_ms,
    },
    status: async () => ({
      health: problems.length === 0 ? "healthy" : "warning",
      problems,
      capacity: {
        cpus: facts.cpus,
        memory_bytes: facts.memory_bytes,
        disk_bytes: facts.disk_bytes,
      },
      usage: { load1: loadavg()[0] ?? 0, memory_free_bytes: freemem() },
      inventory: await vmHost.inventory(),
      versions: { agent: AGENT_VERSION, ...(chVersion ? { ch: chVersion } : {}) },
    }),
  });
  const stopRotation = scheduleKeyRotation(client, dir, log, settings.key_rotation_days);
  return {
    runtime,
    hostId: identity.host_id,
    url: identity.url,
    ops: executor.ops(),
    async close() {
      stopRotation();
      // VMMs keep running: a restarted agent re-adopts them.
      await vmHost.close();
      journal.close();
      await client.close();
      release();
    },
  };
}

/**
 * The root pinned at enrollment; a configured `trust_root` only stands in for state written before
 * pinning. A pinned root never changes without a new enrollment, so a different setting is an error.
 */
function pinnedRoot(
  pinned: PublicJwk | undefined,
  setting: string | undefined,
): PublicJwk | undefined {
  const configured = setting ? readTrustRoot(setting) : undefined;
  if (pinned && configured && !sameRoot(pinned, configured)) {
    throw new TrustRootError(
      "trust_root differs from the root pinned at enrollment; a pinned root changes only by enrolling again (--force)",
    );
  }
  return pinned ?? configured;
}

/** The simulator's switches (`CH_SIM_*`, docs/hypervisor.md) from the agent's environment. */
function simulatorEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (name.startsWith("CH_SIM_") && value !== undefined) picked[name] = value;
  return picked;
}
