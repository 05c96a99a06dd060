import { createClient } from "@libsql/client/web";
// Bundled as text by the `*.perm` rule in wrangler.toml.
import authzSchema from "../../permify/schema.perm";
import { type App, createApp } from "../app";
import type { Authorizer } from "../authz/authorizer";
import { PermifyRestAuthorizer } from "../authz/permify-rest";
import { prepareAuthorizer } from "../authz/sync";
import { type AppConfig, ConfigError, parseConfig } from "../config";
import { createDatabase } from "../db/database";
import { type Deps, signerFromConfig, systemDeps } from "../deps";
import { runPeriodicJobs } from "../domain/periodic";
import { createDurableObjectWakeup } from "../wakeup/durable-object";

/** Worker bindings: plain vars from wrangler.toml and secrets from `wrangler secret put`. */
export type Env = {
  DATABASE_URL?: string;
  DATABASE_AUTH_TOKEN?: string;
  STRATO_ENV?: string;
  STRATO_VERSION?: string;
  STRATO_MAX_BODY_BYTES?: string;
  WEBAUTHN_RP_ID?: string;
  WEBAUTHN_RP_NAME?: string;
  WEBAUTHN_ORIGIN?: string;
  STRATO_SIGNUP?: string;
  STRATO_SESSION_IDLE_MINUTES?: string;
  STRATO_SESSION_MAX_HOURS?: string;
  AUTHZ?: string;
  PERMIFY_URL?: string;
  PERMIFY_TENANT?: string;
  /** A secret. */
  PERMIFY_API_KEY?: string;
  /** A secret: the work-item signing key (PKCS8 PEM or Ed25519 JWK JSON). */
  STRATO_SIGNING_KEY?: string;
  STRATO_TRUST_VERSION?: string;
  /** A secret: the trust root's private key, so the Worker signs the trust document itself. */
  STRATO_TRUST_ROOT_KEY?: string;
  /** Or a trust bundle signed offline with `strato trust sign` (the root key stays offline). */
  STRATO_TRUST_BUNDLE?: string;
  STRATO_AGENT_ISSUER?: string;
  STRATO_HOST_UNREACHABLE_S?: string;
  STRATO_HOST_OFFLINE_S?: string;
  STRATO_AGENT_LEASE_S?: string;
  STRATO_AGENT_ACK_S?: string;
  /** A secret while rotating: the previous signing key, accepted until ..._NOT_AFTER. */
  STRATO_SIGNING_KEY_PREVIOUS?: string;
  STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER?: string;
  /** Comma-separated signing-key ids to publish as revoked. */
  STRATO_REVOKED_KIDS?: string;
  /** The per-host agent doorbell (wrangler.toml durable_objects). */
  HOST_DOORBELL?: DurableObjectNamespace;
};

type Instance = { app: App; deps: Deps; ready: Promise<void> };

// One app per isolate and env object: clients are built once, not per request.
const instances = new WeakMap<Env, Instance>();

/** The external Permify adapter for AUTHZ=permify-rest; gRPC needs Node. */
function remoteAuthorizer(config: AppConfig): Authorizer | undefined {
  const { authz } = config;
  if (authz.mode === "embedded") return undefined;
  if (authz.mode === "permify-grpc") {
    throw new ConfigError(
      "AUTHZ=permify-grpc needs the Node runtime; use permify-rest on Workers.",
    );
  }
  return new PermifyRestAuthorizer({
    url: authz.url,
    tenant: authz.tenant,
    ...(authz.apiKey !== undefined ? { apiKey: authz.apiKey } : {}),
  });
}

function instanceFor(env: Env): Instance {
  let instance = instances.get(env);
  if (!instance) {
    const config = parseConfig(env, "workers");
    const client = createClient(
      config.databaseAuthToken === undefined
        ? { url: config.databaseUrl }
        : { url: config.databaseUrl, authToken: config.databaseAuthToken },
    );
    const authz = remoteAuthorizer(config);
    const deps = systemDeps(config, createDatabase(client), {
      authzSchema,
      ...(authz ? { authz } : {}),
      ...(env.HOST_DOORBELL ? { wakeup: createDurableObjectWakeup(env.HOST_DOORBELL) } : {}),
    });
    // Once per isolate: our schema to an external Permify, outbox on (or off when embedded).
    // …and the work-item signing key from the STRATO_SIGNING_KEY secret.
    const signing = signerFromConfig(config, deps.log).then((signer) => {
      if (signer) deps.signer = signer;
    });
    const ready = Promise.all([prepareAuthorizer(deps, authzSchema), signing])
      .then(() => undefined)
      .catch((err: unknown) => {
        instances.delete(env);
        throw err;
      });
    instance = { app: createApp(deps), deps, ready };
    instances.set(env, instance);
  }
  return instance;
}

/** Without valid configuration there is no app to answer; say so as a problem, details to the log. */
function misconfigured(err: ConfigError): Response {
  return notReady("invalid configuration", err);
}

function notReady(message: string, err: unknown): Response {
  const detail = err instanceof Error ? err.message : String(err);
  console.error(JSON.stringify({ level: "error", message, detail }));
  const body = {
    type: "urn:strato:problem:not_ready",
    title: "Service not ready",
    status: 503,
    code: "not_ready",
    detail:
      "The server is not ready (misconfigured, or a service it needs is down); its operator can find the reason in its logs.",
  };
  return new Response(JSON.stringify(body), {
    status: 503,
    headers: { "Content-Type": "application/problem+json" },
  });
}

export default {
  async fetch(request, env, ctx) {
    let instance: Instance;
    try {
      instance = instanceFor(env);
    } catch (err) {
      if (err instanceof ConfigError) return misconfigured(err);
      throw err;
    }
    try {
      await instance.ready;
    } catch (err) {
      return notReady("the authorization engine could not be prepared", err);
    }
    return instance.app.fetch(request, env, ctx);
  },
  /** The cron trigger (wrangler.toml): the authz outbox and the VM reconciler. */
  async scheduled(_controller, env, ctx) {
    const { deps, ready } = instanceFor(env);
    ctx.waitUntil(ready.then(() => runPeriodicJobs(deps)));
  },
} satisfies ExportedHandler<Env>;

/** The per-host doorbell Durable Object (src/wakeup/durable-object.ts), bound as HOST_DOORBELL. */
export { HostDoorbell } from "../wakeup/durable-object";
