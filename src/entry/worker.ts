import { createClient } from "@libsql/client/web";
import { type App, createApp } from "../app";
import { parseConfig } from "../config";
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

export default {
  fetch(request, env, ctx) {
    return appFor(env).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
