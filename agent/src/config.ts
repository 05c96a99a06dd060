import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** Where `run` and `enroll` look for a config file when neither `--config` nor the env names one. */
export const DEFAULT_CONFIG_FILE = "/etc/strato-agent/config.yaml";

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** A switch: YAML booleans, or "1"/"0"/"true"/"false" from the environment. */
const flag = (fallback: boolean) =>
  z
    .union([z.boolean(), z.enum(["0", "1", "true", "false"])])
    .transform((v) => v === true || v === "1" || v === "true")
    .default(fallback);

/**
 * Every agent setting, by its config-file key. The environment variable is `STRATO_AGENT_` + the
 * key in upper case (plus `CLOUD_HYPERVISOR_BIN` for `ch_binary`); a few have flags too.
 */
export const agentSettingsSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    token: z.string().min(1).optional(),
    state_dir: z.string().min(1).optional(),
    machine_id: z.string().min(1).optional(),
    /**
     * The trust root's public JWK (JSON, or a file holding it), given out of band: enrollment then
     * fails unless the control plane names the same root. Unset: the enrollment answer is pinned.
     */
    trust_root: z.string().min(1).optional(),
    ch_binary: z.string().min(1).optional(),
    /**
     * Without a real Cloud Hypervisor and KVM the agent runs VMs in the bundled simulator:
     * `fallback` reports that as a host problem (warning), `expected` (development) does not.
     */
    simulator: z.enum(["fallback", "expected"]).default("fallback"),
    firmware: z.string().min(1).default("/usr/share/cloud-hypervisor/hypervisor-fw"),
    kernel: z.string().min(1).optional(),
    cmdline: z.string().min(1).default("console=ttyS0 root=/dev/vda1 rw"),
    bridge: z.string().min(1).optional(),
    image_cache_gb: z.coerce.number().positive().default(50),
    console_log_mb: z.coerce.number().positive().default(16),
    heartbeat_ms: ms(10_000),
    status_ms: ms(60_000),
    claim_ms: ms(60_000),
    poll_ms: ms(5_000),
    approval_poll_ms: ms(30_000),
    wait_s: z.coerce.number().int().min(0).max(25).default(25),
    /** 409 session_conflict: retry the doorbell this often, and exit after this long (design §2.11). */
    session_conflict_retry_ms: ms(30_000),
    session_conflict_exit_ms: ms(4 * 60_000),
    /** The doorbell WebSocket; false: long poll (or polling) only, e.g. behind a proxy that breaks it. */
    websocket: flag(true),
    /** Replace the agent's key when it is older than this (design §2.8: 30 days); 0 = never. */
    key_rotation_days: z.coerce.number().int().min(0).default(30),
    test_ops: flag(false),
  })
  .strict();

export type AgentSettings = z.infer<typeof agentSettingsSchema>;
type Key = keyof AgentSettings;
const KEYS = Object.keys(agentSettingsSchema.shape) as Key[];

/** Flags that set a setting (`--state-dir` → `state_dir`). */
const FLAG_KEYS: Partial<Record<string, Key>> = {
  url: "url",
  token: "token",
  "state-dir": "state_dir",
  "machine-id": "machine_id",
  "trust-root": "trust_root",
  "ch-binary": "ch_binary",
  "test-ops": "test_ops",
};

export type SettingSource = "flag" | "env" | "file" | "default";

export type ResolvedSettings = {
  settings: AgentSettings;
  /** The file read, if any. */
  file: string | undefined;
  sources: Record<Key, SettingSource>;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A command without a setting it needs, or an unknown command: `strato-agent` prints the usage, exit 2. */
export class UsageError extends Error {}

const envName = (key: Key) => `STRATO_AGENT_${key.toUpperCase()}`;

function envLayer(env: Record<string, string | undefined>): Partial<Record<Key, unknown>> {
  const layer: Partial<Record<Key, unknown>> = {};
  for (const key of KEYS) {
    const value = env[envName(key)];
    if (value !== undefined && value !== "") layer[key] = value;
  }
  // Cloud Hypervisor's own name for its binary wins over ours.
  if (env.CLOUD_HYPERVISOR_BIN) layer.ch_binary = env.CLOUD_HYPERVISOR_BIN;
  return layer;
}

function flagLayer(
  flags: Record<string, string | boolean | undefined>,
): Partial<Record<Key, unknown>> {
  const layer: Partial<Record<Key, unknown>> = {};
  for (const [name, value] of Object.entries(flags)) {
    const key = FLAG_KEYS[name];
    if (key && value !== undefined && value !== "") layer[key] = value;
  }
  return layer;
}

function fileLayer(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed))
    throw new ConfigError(`config file ${path} must be a mapping of setting: value`);
  return parsed as Record<string, unknown>;
}

/**
 * The agent's settings from, in order of precedence, flags, the environment, the config file
 * (`--config`, `STRATO_AGENT_CONFIG`, or `/etc/strato-agent/config.yaml` when it exists) and
 * defaults. Any invalid value or unknown file key is a `ConfigError` naming it and its source.
 */
export function resolveSettings(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  defaultFile: string = DEFAULT_CONFIG_FILE,
): ResolvedSettings {
  const named = flags.config;
  const explicit = (typeof named === "string" && named) || env.STRATO_AGENT_CONFIG || undefined;
  const file = explicit ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const fromFile = file ? fileLayer(file) : {};
  const fromEnv = envLayer(env);
  const fromFlags = flagLayer(flags);
  const sourceOf = (key: string): string => {
    if (key in fromFlags) return `flag --${key.replaceAll("_", "-")}`;
    if (key in fromEnv)
      return key === "ch_binary" && env.CLOUD_HYPERVISOR_BIN
        ? "env CLOUD_HYPERVISOR_BIN"
        : `env ${envName(key as Key)}`;
    return `config file ${file}`;
  };
  const parsed = agentSettingsSchema.safeParse({ ...fromFile, ...fromEnv, ...fromFlags });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys")
        return `unknown setting ${issue.keys.join(", ")} in config file ${file}`;
      const key = String(issue.path[0] ?? "");
      return `${key} (${sourceOf(key)}): ${issue.message}`;
    });
    throw new ConfigError(`invalid agent configuration:\n  ${problems.join("\n  ")}`);
  }
  const sources = Object.fromEntries(
    KEYS.map((key): [Key, SettingSource] => [
      key,
      key in fromFlags ? "flag" : key in fromEnv ? "env" : key in fromFile ? "file" : "default",
    ]),
  ) as Record<Key, SettingSource>;
  return { settings: parsed.data, file, sources };
}

/** The settings as `strato-agent config` prints them: secrets hidden, each with its source. */
export function describeSettings(resolved: ResolvedSettings): Record<string, unknown> {
  const shown = Object.fromEntries(
    KEYS.map((key) => {
      const value = resolved.settings[key];
      return [
        key,
        {
          value: key === "token" && value !== undefined ? "(hidden)" : (value ?? null),
          source: resolved.sources[key],
        },
      ];
    }),
  );
  return { file: resolved.file ?? null, settings: shown };
}
