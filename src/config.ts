import { z } from "zod";

/**
 * Runtime configuration. Entry points parse their environment (process.env or Worker bindings) with
 * `parseConfig` once; nothing below them reads the environment.
 */
const ConfigSchema = z.object({
  STRATO_ENV: z.enum(["development", "production", "test"]).default("production"),
  STRATO_VERSION: z.string().min(1).default("0.1.0"),
  DATABASE_URL: z
    .string()
    .min(1, "DATABASE_URL is required (e.g. file:.data/strato.db or https://…)"),
  DATABASE_AUTH_TOKEN: z.string().min(1).optional(),
  /** Largest request body the API accepts, in bytes. */
  STRATO_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** The relying party of passkeys: the host name people type (no scheme, no port). */
  WEBAUTHN_RP_ID: z.string().min(1).default("localhost"),
  WEBAUTHN_RP_NAME: z.string().min(1).default("Strato"),
  /** The exact origin browsers load the console from; ceremonies and CSRF checks compare with it. */
  WEBAUTHN_ORIGIN: z.url({ protocol: /^https?$/ }).default("http://localhost:8787"),
  /** Which authorization engine decides: the embedded one over libSQL, or a Permify server. */
  AUTHZ: z.enum(["embedded", "permify-rest", "permify-grpc"]).default("embedded"),
  /** REST: base URL (http://permify:3476); gRPC: host:port (permify:3478). */
  PERMIFY_URL: z.string().min(1).optional(),
  PERMIFY_TENANT: z.string().min(1).default("t1"),
  PERMIFY_API_KEY: z.string().min(1).optional(),
  /** gRPC only: a plaintext channel to Permify instead of TLS (a Permify on the same host). */
  PERMIFY_INSECURE: z.enum(["true", "false"]).default("false"),
  /** Who may create an account after set-up: invited people only, or anyone who can reach the site. */
  STRATO_SIGNUP: z.enum(["invite", "open"]).default("invite"),
  STRATO_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .positive()
    .default(12 * 60),
  STRATO_SESSION_MAX_HOURS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24),
  /** The control plane's work-item signing key (PKCS8 PEM or Ed25519 JWK JSON); a secret. */
  STRATO_SIGNING_KEY: z.string().min(1).optional(),
  /** The key being rotated out (a public JWK suffices): agents still accept it until NOT_AFTER. */
  STRATO_SIGNING_KEY_PREVIOUS: z.string().min(1).optional(),
  /** Epoch seconds after which the previous key is no longer accepted. */
  STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER: z.coerce.number().int().positive().optional(),
  /** Comma-separated kids agents must refuse at once (a stolen key); bump the trust version too. */
  STRATO_REVOKED_KIDS: z.string().optional(),
  /**
   * The trust root's private key (PKCS8 PEM or Ed25519 JWK JSON; a secret): the control plane signs
   * the trust document itself. Protects the agent channel, not against a compromised control plane.
   */
  STRATO_TRUST_ROOT_KEY: z.string().min(1).optional(),
  /** A trust bundle signed offline (`strato trust sign`): the root key never comes online. */
  STRATO_TRUST_BUNDLE: z.string().min(1).optional(),
  /** Version of the trust document listing the signing keys; bump it when the key changes. */
  STRATO_TRUST_VERSION: z.coerce.number().int().positive().default(1),
  /** `iss` of signed work items; agents pin it at enrollment. */
  STRATO_AGENT_ISSUER: z.string().min(1).default("strato"),
  /** Host health: Unreachable after this many seconds without liveness, Offline (lost) after the next. */
  STRATO_HOST_UNREACHABLE_S: z.coerce.number().int().positive().default(30),
  STRATO_HOST_OFFLINE_S: z.coerce.number().int().positive().default(300),
  /** Work-item lease length and the time an agent has to ack a claim. */
  STRATO_AGENT_LEASE_S: z.coerce.number().int().positive().default(60),
  STRATO_AGENT_ACK_S: z.coerce.number().int().positive().default(30),
  /** After an agent rotates its key, the old one still signs token assertions this long. */
  STRATO_AGENT_KEY_OVERLAP_S: z.coerce.number().int().nonnegative().default(600),
  /** Placement: `spread` (least loaded host) or `binpack` (fullest host that fits). */
  STRATO_PLACEMENT: z.enum(["spread", "binpack"]).default("spread"),
  /** vCPUs placed per host CPU, and guest memory per byte of host memory. */
  STRATO_CPU_OVERCOMMIT: z.coerce.number().min(1).max(64).default(4),
  STRATO_MEMORY_OVERCOMMIT: z.coerce.number().min(1).max(4).default(1),
  /** Live console views (SSE): how often a stream looks for changes, and how long it lives. */
  STRATO_LIVE_CHECK_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  STRATO_LIVE_MAX_S: z.coerce.number().int().min(10).max(3600).optional(),
});

/** Which entry point is running the app; reported by /api/v1/info. */
export type Runtime = "workers" | "node";

export type AppConfig = {
  runtime: Runtime;
  environment: "development" | "production" | "test";
  version: string;
  databaseUrl: string;
  databaseAuthToken: string | undefined;
  maxBodyBytes: number;
  webauthn: { rpId: string; rpName: string; origin: string };
  signup: "invite" | "open";
  authz:
    | { mode: "embedded" }
    | {
        mode: "permify-rest" | "permify-grpc";
        url: string;
        tenant: string;
        apiKey: string | undefined;
        /** gRPC: plaintext instead of TLS (REST follows the URL's scheme). */
        insecure: boolean;
      };
  session: { idleMs: number; maxMs: number };
  /** Secret key material for `createLocalSigner`; absent → agents cannot claim (503). */
  signingKey: string | undefined;
  /** Rotation overlap: the previous key and when agents stop accepting it (epoch seconds). */
  previousSigningKey: { secret: string; notAfter: number } | undefined;
  /** Signing-key ids published as revoked in the trust document (design §2.8, emergency). */
  revokedKids: string[];
  /** Who signs the trust document; absent → agents cannot enroll or claim (503). */
  trust: { rootKey: string } | { bundle: string } | undefined;
  agent: {
    issuer: string;
    trustVersion: number;
    unreachableAfterMs: number;
    offlineAfterMs: number;
    leaseMs: number;
    ackWindowMs: number;
    keyOverlapMs: number;
  };
  placement: {
    strategy: "spread" | "binpack";
    cpuOvercommit: number;
    memoryOvercommit: number;
  };
  /** Server-sent live updates of console pages (src/web/live). */
  live: { checkMs: number; heartbeatMs: number; maxMs: number };
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with `schema`, or throws a ConfigError naming each bad variable. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

function previousSigningKey(c: {
  STRATO_SIGNING_KEY_PREVIOUS?: string | undefined;
  STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER?: number | undefined;
}): AppConfig["previousSigningKey"] {
  if (c.STRATO_SIGNING_KEY_PREVIOUS === undefined) return undefined;
  if (c.STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER === undefined) {
    throw new ConfigError(
      "Invalid configuration:\n  STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER: required with STRATO_SIGNING_KEY_PREVIOUS (epoch seconds)",
    );
  }
  return {
    secret: c.STRATO_SIGNING_KEY_PREVIOUS,
    notAfter: c.STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER,
  };
}

export function parseConfig(env: Record<string, unknown>, runtime: Runtime): AppConfig {
  const c = parseEnv(ConfigSchema, env);
  return {
    runtime,
    environment: c.STRATO_ENV,
    version: c.STRATO_VERSION,
    databaseUrl: c.DATABASE_URL,
    databaseAuthToken: c.DATABASE_AUTH_TOKEN,
    maxBodyBytes: c.STRATO_MAX_BODY_BYTES,
    webauthn: {
      rpId: c.WEBAUTHN_RP_ID,
      rpName: c.WEBAUTHN_RP_NAME,
      // Browsers report origins without a trailing slash; normalise so comparisons are exact.
      origin: new URL(c.WEBAUTHN_ORIGIN).origin,
    },
    signup: c.STRATO_SIGNUP,
    authz: authzConfig(c),
    session: {
      idleMs: c.STRATO_SESSION_IDLE_MINUTES * 60_000,
      maxMs: c.STRATO_SESSION_MAX_HOURS * 3_600_000,
    },
    signingKey: c.STRATO_SIGNING_KEY,
    previousSigningKey: previousSigningKey(c),
    revokedKids: (c.STRATO_REVOKED_KIDS ?? "")
      .split(",")
      .map((kid) => kid.trim())
      .filter((kid) => kid.length > 0),
    trust: trustConfig(c, env),
    agent: {
      issuer: c.STRATO_AGENT_ISSUER,
      trustVersion: c.STRATO_TRUST_VERSION,
      unreachableAfterMs: c.STRATO_HOST_UNREACHABLE_S * 1000,
      offlineAfterMs: c.STRATO_HOST_OFFLINE_S * 1000,
      leaseMs: c.STRATO_AGENT_LEASE_S * 1000,
      ackWindowMs: c.STRATO_AGENT_ACK_S * 1000,
      keyOverlapMs: c.STRATO_AGENT_KEY_OVERLAP_S * 1000,
    },
    placement: {
      strategy: c.STRATO_PLACEMENT,
      cpuOvercommit: c.STRATO_CPU_OVERCOMMIT,
      memoryOvercommit: c.STRATO_MEMORY_OVERCOMMIT,
    },
    // Proxies drop a stream that is silent for long; a comment every 15 s keeps it open.
    live: {
      checkMs: c.STRATO_LIVE_CHECK_MS,
      heartbeatMs: 15_000,
      // On Workers each check is a subrequest (50 per request on the free plan): 40 s at 1 s fits,
      // with the access checks of every heartbeat period (two per stream) and a render or two.
      maxMs: (c.STRATO_LIVE_MAX_S ?? (runtime === "workers" ? 40 : 300)) * 1000,
    },
  };
}

/** One way to sign the trust document; an offline bundle already says what the other variables would. */
function trustConfig(
  c: z.infer<typeof ConfigSchema>,
  env: Record<string, unknown>,
): AppConfig["trust"] {
  const bad = (message: string) => new ConfigError(`Invalid configuration:\n  ${message}`);
  if (c.STRATO_TRUST_BUNDLE !== undefined) {
    if (c.STRATO_TRUST_ROOT_KEY !== undefined) {
      throw bad("STRATO_TRUST_BUNDLE: set it or STRATO_TRUST_ROOT_KEY, not both");
    }
    const listed = [
      "STRATO_SIGNING_KEY_PREVIOUS",
      "STRATO_REVOKED_KIDS",
      "STRATO_TRUST_VERSION",
    ].filter((name) => env[name] !== undefined && env[name] !== "");
    if (listed.length > 0) {
      throw bad(`${listed.join(", ")}: the trust bundle lists keys, revocations and its version`);
    }
    return { bundle: c.STRATO_TRUST_BUNDLE };
  }
  return c.STRATO_TRUST_ROOT_KEY === undefined ? undefined : { rootKey: c.STRATO_TRUST_ROOT_KEY };
}

function authzConfig(c: z.infer<typeof ConfigSchema>): AppConfig["authz"] {
  if (c.AUTHZ === "embedded") return { mode: "embedded" };
  if (c.PERMIFY_URL === undefined) {
    throw new ConfigError(`Invalid configuration:\n  PERMIFY_URL: required when AUTHZ=${c.AUTHZ}`);
  }
  return {
    mode: c.AUTHZ,
    url: c.PERMIFY_URL,
    tenant: c.PERMIFY_TENANT,
    apiKey: c.PERMIFY_API_KEY,
    insecure: c.PERMIFY_INSECURE === "true",
  };
}
