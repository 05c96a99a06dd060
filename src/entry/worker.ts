import { createClient } from "@libsql/client/web";
import { type App, createApp } from "../app";
import { ConfigError, parseConfig } from "../config";
import { createDatabase } from "../db/database";
import { systemDeps } from "../deps";

/** Worker bindings: plain vars from wrangler.toml and secrets from `wrangler secret put`. */
export type Env = {
  DATABASE_URL?: string;
  DATABASE_AUTH_TOKEN?: string;
  STRATO_ENV?: string;
  STRATO_VERSION?: string;
  STRATO_MAX_BODY_BYTES?: string;
};

// One app per isolate and env object: clients are built once, not per request.
const apps = new WeakMap<Env, App>();

function appFor(env: Env): App {
  let app = apps.get(env);
  if (!app) {
    const config = parseConfig(env, "workers");
    const client = createClient(
      config.databaseAuthToken === undefined
        ? { url: config.databaseUrl }
        : { url: config.databaseUrl, authToken: config.databaseAuthToken },
    );
    app = createApp(systemDeps(config, createDatabase(client)));
    apps.set(env, app);
  }
  return app;
}

/** Without valid configuration there is no app to answer; say so as a problem, details to the log. */
function misconfigured(err: ConfigError): Response {
  console.error(
    JSON.stringify({ level: "error", message: "invalid configuration", detail: err.message }),
  );
  const body = {
    type: "urn:strato:problem:not_ready",
    title: "Service not ready",
    status: 503,
    code: "not_ready",
    detail: "The server is misconfigured; its operator can find the reason in its logs.",
  };
  return new Response(JSON.stringify(body), {
    status: 503,
    headers: { "Content-Type": "application/problem+json" },
  });
}

export default {
  fetch(request, env, ctx) {
    try {
      return appFor(env).fetch(request, env, ctx);
    } catch (err) {
      if (err instanceof ConfigError) return misconfigured(err);
      throw err;
    }
  },
} satisfies ExportedHandler<Env>;
