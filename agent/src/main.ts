import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { assembleAgent, enrolledClient, loadEnrolledState } from "./assemble";
import { ControlPlaneClient, ControlPlaneError } from "./client";
import {
  type AgentSettings,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  describeSettings,
  resolveSettings,
  UsageError,
} from "./config";
import { collectFacts } from "./facts";
import { enrollmentProof } from "./identity";
import { rotateKey } from "./key-rotation";
import { jsonLog } from "./log";
import { ensureStateDir, loadIdentity, newKey, saveIdentity } from "./state";
import { readTrustRoot, rootKid, sameRoot, TrustRootError } from "./trust";

const USAGE = `strato-agent — the Strato host agent

  strato-agent enroll --url URL --token TOKEN --state-dir DIR [--trust-root JWK|FILE] [--machine-id ID] [--ch-binary PATH] [--force]
  strato-agent run --state-dir DIR [--test-ops]
  strato-agent rotate-key --state-dir DIR   replace the agent's key now (the host keeps its identity)
  strato-agent config            print the effective settings and where each comes from

Every command takes --config FILE (or STRATO_AGENT_CONFIG; default ${DEFAULT_CONFIG_FILE} when it
exists): a YAML mapping of the settings below. Flags win over the environment, which wins over the file.

  setting (file key)   environment                     default
  url, token           STRATO_AGENT_URL, _TOKEN        (enroll only)
  state_dir            STRATO_AGENT_STATE_DIR          —
  trust_root           STRATO_AGENT_TRUST_ROOT         the control plane's answer at enrollment (pinned)
  machine_id           STRATO_AGENT_MACHINE_ID         /etc/machine-id
  ch_binary            CLOUD_HYPERVISOR_BIN            cloud-hypervisor on PATH with /dev/kvm, else the simulator
  simulator            STRATO_AGENT_SIMULATOR          fallback (a warning); expected: not a problem (development)
  firmware             STRATO_AGENT_FIRMWARE           /usr/share/cloud-hypervisor/hypervisor-fw
  kernel, cmdline      STRATO_AGENT_KERNEL, _CMDLINE   boot a kernel instead of firmware
  bridge               STRATO_AGENT_BRIDGE             none: VMs get no NIC
  image_cache_gb       STRATO_AGENT_IMAGE_CACHE_GB     50
  console_log_mb       STRATO_AGENT_CONSOLE_LOG_MB     16
  heartbeat_ms         STRATO_AGENT_HEARTBEAT_MS       10000
  status_ms            STRATO_AGENT_STATUS_MS          60000
  claim_ms             STRATO_AGENT_CLAIM_MS           60000 (safety claim)
  poll_ms              STRATO_AGENT_POLL_MS            5000 (when long polling fails or wait_s is 0)
  approval_poll_ms     STRATO_AGENT_APPROVAL_POLL_MS   30000
  wait_s               STRATO_AGENT_WAIT_S             25 (long poll length; 0 = poll only)
  websocket            STRATO_AGENT_WEBSOCKET          true (the doorbell socket; false = long poll only)
  key_rotation_days    STRATO_AGENT_KEY_ROTATION_DAYS  30 (a new agent key, without enrolling again; 0 = never)
  session_conflict_retry_ms  …_SESSION_CONFLICT_RETRY_MS  30000 (another boot holds the doorbell: retry)
  session_conflict_exit_ms   …_SESSION_CONFLICT_EXIT_MS   240000 (… and exit 1 after this long)
  test_ops             STRATO_AGENT_TEST_OPS           false (registers host.sleep, for tests)
`;

const log = jsonLog();

async function enroll(
  values: Record<string, string | boolean | undefined>,
  settings: AgentSettings,
): Promise<number> {
  const url = settings.url;
  const token = settings.token;
  const stateDir = settings.state_dir;
  if (!url || !token || !stateDir)
    throw new UsageError(
      "enroll needs a url, a token and a state directory (--url, --token, --state-dir)",
    );
  // Read before any request, so a bad setting fails before an enrollment token is used.
  const configuredRoot = settings.trust_root ? readTrustRoot(settings.trust_root) : undefined;
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
    machineId: settings.machine_id,
    chBinary: settings.ch_binary,
  });
  const key = await newKey(dir);
  const client = new ControlPlaneClient(url);
  try {
    // One round trip first so the proof's iat is on the server's clock.
    await client.send("GET", "/enrollment", { auth: false }).catch(() => undefined);
    const proof = await enrollmentProof(key, token, client.now());
    const res = await client.enroll({
      token,
      public_jwk: key.publicJwk,
      facts,
      proof,
      ...(configuredRoot ? { trust_root_kid: await rootKid(configuredRoot) } : {}),
    });
    // A root configured out of band is the stronger source: the answer must name the same key.
    if (configuredRoot && !sameRoot(configuredRoot, res.trust_root)) {
      log.error(
        "enrollment failed: the control plane's trust root is not the configured trust_root; not enrolled (an operator should reject the pending host)",
        {
          hostId: res.host_id,
          configured: await rootKid(configuredRoot),
          offered: await rootKid(res.trust_root),
        },
      );
      return 4;
    }
    saveIdentity(dir, {
      url,
      host_id: res.host_id,
      issuer: res.issuer,
      enrolled_at: new Date().toISOString(),
      trust_root: res.trust_root,
    });
    log.info("enrolled; waiting for an operator to approve this host", {
      hostId: res.host_id,
      replacesHostId: res.replaces_host_id,
      thumbprint: key.thumbprint,
      trustRoot: await rootKid(res.trust_root),
    });
    return 0;
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === "trust_root_mismatch") {
      log.error(
        "enrollment refused: the control plane's trust root is not the configured trust_root; nothing was recorded",
        { configured: configuredRoot ? await rootKid(configuredRoot) : null },
      );
      return 4;
    }
    log.error("enrollment failed", { error: String(error) });
    return error instanceof ControlPlaneError && error.status === 401 ? 3 : 1;
  } finally {
    await client.close();
  }
}

/** `strato-agent rotate-key`: one rotation now (a running agent picks the new key file up). */
async function rotateKeyNow(settings: AgentSettings): Promise<number> {
  const enrolled = loadEnrolledState(settings, "rotate-key", log);
  if (!enrolled) return 2;
  const { dir, identity } = enrolled;
  const client = await enrolledClient(dir, identity);
  try {
    await rotateKey(client, dir, log);
    return 0;
  } catch (error) {
    log.error("agent key rotation failed", { error: String(error) });
    return error instanceof ControlPlaneError && [401, 403].includes(error.status) ? 3 : 1;
  } finally {
    await client.close();
  }
}

async function run(settings: AgentSettings): Promise<number> {
  const agent = await assembleAgent(settings, log);
  if ("exitCode" in agent) return agent.exitCode;
  const { runtime } = agent;
  const shutdown = (signal: string) => {
    log.info("shutting down", { signal });
    void runtime.stop(0);
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  log.info("agent starting", { hostId: agent.hostId, url: agent.url, ops: agent.ops });
  await runtime.run();
  await agent.close();
  log.info("agent stopped", { exitCode: runtime.exitCode });
  return runtime.exitCode;
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
      "trust-root": { type: "string" },
      force: { type: "boolean" },
      "test-ops": { type: "boolean" },
      config: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const resolved = resolveSettings(values, process.env);
  if (command === "config") {
    process.stdout.write(`${JSON.stringify(describeSettings(resolved), null, 2)}\n`);
    return 0;
  }
  if (command === "enroll") return enroll(values, resolved.settings);
  if (command === "run") return run(resolved.settings);
  if (command === "rotate-key") return rotateKeyNow(resolved.settings);
  throw new UsageError(`unknown command ${command}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof TrustRootError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof UsageError || (error instanceof Error && error.name === "TypeError")) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    log.error("agent failed", { error: String(error) });
    process.exit(1);
  },
);
