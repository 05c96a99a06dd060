import { freemem, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { ControlPlaneClient, ControlPlaneError } from "./client";
import { defaultExecutor } from "./executor";
import { AGENT_VERSION, collectFacts } from "./facts";
import { enrollmentProof } from "./identity";
import { FileJournal } from "./journal-file";
import { jsonLog } from "./log";
import { executorHandlers, VM_OP_NAMES, vmOpHandlers } from "./ops";
import { AgentRuntime } from "./runtime";
import { ensureStateDir, JOURNAL_FILE, loadIdentity, loadKey, newKey, saveIdentity } from "./state";
import { openVmHost } from "./vm-host";

const USAGE = `strato-agent — the Strato host agent

  strato-agent enroll --url URL --token TOKEN --state-dir DIR [--machine-id ID] [--ch-binary PATH] [--force]
  strato-agent run --state-dir DIR [--test-ops]

Environment (flags win): STRATO_AGENT_URL, STRATO_AGENT_TOKEN, STRATO_AGENT_STATE_DIR,
STRATO_AGENT_MACHINE_ID, CLOUD_HYPERVISOR_BIN (or STRATO_AGENT_CH_BINARY; default: cloud-hypervisor
on PATH when /dev/kvm is usable, else the bundled simulator); VMs boot STRATO_AGENT_FIRMWARE
(default /usr/share/cloud-hypervisor/hypervisor-fw) or STRATO_AGENT_KERNEL with
STRATO_AGENT_CMDLINE; STRATO_AGENT_BRIDGE (VM NICs join it; none: no NIC);
STRATO_AGENT_IMAGE_CACHE_GB (50); STRATO_AGENT_CONSOLE_LOG_MB (16);
timings (ms): STRATO_AGENT_HEARTBEAT_MS (10000),
STRATO_AGENT_STATUS_MS (60000), STRATO_AGENT_CLAIM_MS (60000), STRATO_AGENT_POLL_MS (5000),
STRATO_AGENT_APPROVAL_POLL_MS (30000); STRATO_AGENT_WAIT_S (25); STRATO_AGENT_TEST_OPS=1 registers host.sleep.
`;

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const EnvSchema = z.object({
  STRATO_AGENT_URL: z.string().optional(),
  STRATO_AGENT_TOKEN: z.string().optional(),
  STRATO_AGENT_STATE_DIR: z.string().optional(),
  STRATO_AGENT_MACHINE_ID: z.string().optional(),
  STRATO_AGENT_CH_BINARY: z.string().optional(),
  CLOUD_HYPERVISOR_BIN: z.string().optional(),
  STRATO_AGENT_FIRMWARE: z.string().default("/usr/share/cloud-hypervisor/hypervisor-fw"),
  STRATO_AGENT_KERNEL: z.string().optional(),
  STRATO_AGENT_CMDLINE: z.string().default("console=ttyS0 root=/dev/vda1 rw"),
  STRATO_AGENT_BRIDGE: z.string().optional(),
  STRATO_AGENT_IMAGE_CACHE_GB: z.coerce.number().positive().default(50),
  STRATO_AGENT_CONSOLE_LOG_MB: z.coerce.number().positive().default(16),
  STRATO_AGENT_HEARTBEAT_MS: ms(10_000),
  STRATO_AGENT_STATUS_MS: ms(60_000),
  STRATO_AGENT_CLAIM_MS: ms(60_000),
  STRATO_AGENT_POLL_MS: ms(5_000),
  STRATO_AGENT_APPROVAL_POLL_MS: ms(30_000),
  STRATO_AGENT_WAIT_S: z.coerce.number().int().min(0).max(25).default(25),
  STRATO_AGENT_TEST_OPS: z.enum(["0", "1"]).default("0"),
});

const log = jsonLog();

class UsageError extends Error {}

async function enroll(
  values: Record<string, string | boolean | undefined>,
  env: z.infer<typeof EnvSchema>,
): Promise<number> {
  const url = str(values.url) ?? env.STRATO_AGENT_URL;
  const token = str(values.token) ?? env.STRATO_AGENT_TOKEN;
  const stateDir = str(values["state-dir"]) ?? env.STRATO_AGENT_STATE_DIR;
  if (!url || !token || !stateDir)
    throw new UsageError("enroll needs --url, --token and --state-dir");
  const dir = resolve(stateDir);
  ensureStateDir(dir);
  if (loadIdentity(dir) && values.force !== true) {
    log.error(
      "already enrolled; pass --force to enroll again with a new key (it will need approval)",
    );
    return 2;
  }
  const facts = await collectFacts({
    stateDir: dir,
    machineId: str(values["machine-id"]) ?? env.STRATO_AGENT_MACHINE_ID,
    chBinary: str(values["ch-binary"]) ?? chBinaryOf(env),
  });
  const key = await newKey(dir);
  const client = new ControlPlaneClient(url);
  try {
    // One round trip first so the proof's iat is on the server's clock.
    await client.send("GET", "/enrollment", { auth: false }).catch(() => undefined);
    const proof = await enrollmentProof(key, token, client.now());
    const res = await client.enroll({ token, public_jwk: key.publicJwk, facts, proof });
    saveIdentity(dir, {
      url,
      host_id: res.host_id,
      issuer: res.issuer,
      enrolled_at: new Date().toISOString(),
    });
    log.info("enrolled; waiting for an operator to approve this host", {
      hostId: res.host_id,
      replacesHostId: res.replaces_host_id,
      thumbprint: key.thumbprint,
    });
    return 0;
  } catch (error) {
    log.error("enrollment failed", { error: String(error) });
    return error instanceof ControlPlaneError && error.status === 401 ? 3 : 1;
  } finally {
    await client.close();
  }
}

async function run(
  values: Record<string, string | boolean | undefined>,
  env: z.infer<typeof EnvSchema>,
): Promise<number> {
  const stateDir = str(values["state-dir"]) ?? env.STRATO_AGENT_STATE_DIR;
  if (!stateDir) throw new UsageError("run needs --state-dir");
  const dir = resolve(stateDir);
  const identity = loadIdentity(dir);
  if (!identity) {
    log.error("not enrolled: run `strato-agent enroll` first", { stateDir: dir });
    return 2;
  }
  const key = await loadKey(dir);
  const client = new ControlPlaneClient(identity.url);
  client.identity = { hostId: identity.host_id, issuer: identity.issuer, key };
  const journal = new FileJournal(join(dir, JOURNAL_FILE));
  const vmHost = await openVmHost(
    {
      stateDir: dir,
      chBinary: str(values["ch-binary"]) ?? chBinaryOf(env),
      boot: env.STRATO_AGENT_KERNEL
        ? { kind: "kernel", kernel: env.STRATO_AGENT_KERNEL, cmdline: env.STRATO_AGENT_CMDLINE }
        : { kind: "firmware", firmware: env.STRATO_AGENT_FIRMWARE },
      bridge: env.STRATO_AGENT_BRIDGE,
      imageCacheBytes: Math.round(env.STRATO_AGENT_IMAGE_CACHE_GB * 1024 ** 3),
      consoleLogBytes: Math.round(env.STRATO_AGENT_CONSOLE_LOG_MB * 1024 ** 2),
    },
    log,
  );
  const facts = await collectFacts({
    stateDir: dir,
    machineId: env.STRATO_AGENT_MACHINE_ID,
    chBinary: vmHost.binary,
  });
  const executor = defaultExecutor({
    testOps: values["test-ops"] === true || env.STRATO_AGENT_TEST_OPS === "1",
  });
  const vmHandlers = executorHandlers(vmOpHandlers(vmHost.ops));
  for (const op of VM_OP_NAMES) executor.register(op, 1, vmHandlers[op]);
  const problems = [
    ...(facts.kvm ? [] : ["/dev/kvm is missing"]),
    ...(vmHost.simulated ? ["VMs run in the Cloud Hypervisor simulator"] : []),
    ...vmHost.warnings.map((w) => w.message),
  ];
  const runtime = new AgentRuntime(client, journal, executor, log, {
    hostId: identity.host_id,
    issuer: identity.issuer,
    heartbeatMs: env.STRATO_AGENT_HEARTBEAT_MS,
    statusMs: env.STRATO_AGENT_STATUS_MS,
    claimMs: env.STRATO_AGENT_CLAIM_MS,
    pollMs: env.STRATO_AGENT_POLL_MS,
    waitS: env.STRATO_AGENT_WAIT_S,
    approvalPollMs: env.STRATO_AGENT_APPROVAL_POLL_MS,
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
      versions: { agent: AGENT_VERSION, ...(facts.ch_version ? { ch: facts.ch_version } : {}) },
    }),
  });
  const shutdown = (signal: string) => {
    log.info("shutting down", { signal });
    void runtime.stop(0);
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  log.info("agent starting", { hostId: identity.host_id, url: identity.url, ops: executor.ops() });
  await runtime.run();
  // VMMs keep running: a restarted agent re-adopts them.
  await vmHost.close();
  journal.close();
  await client.close();
  log.info("agent stopped", { exitCode: runtime.exitCode });
  return runtime.exitCode;
}

function chBinaryOf(env: z.infer<typeof EnvSchema>): string | undefined {
  return env.CLOUD_HYPERVISOR_BIN ?? env.STRATO_AGENT_CH_BINARY;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      "state-dir": { type: "string" },
      "machine-id": { type: "string" },
      "ch-binary": { type: "string" },
      force: { type: "boolean" },
      "test-ops": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  const env = EnvSchema.parse(process.env);
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "enroll") return enroll(values, env);
  if (command === "run") return run(values, env);
  throw new UsageError(`unknown command ${command}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof Error && error.name === "TypeError")) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    log.error("agent failed", { error: String(error) });
    process.exit(1);
  },
);
