import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { registerAgentApi } from "./api/agent/index";
import { registerDocs } from "./api/docs";
import { createRouter, type Router } from "./api/router";
import { registerHealth } from "./api/system/health";
import { registerAuth } from "./api/v1/auth";
import { registerHosts } from "./api/v1/hosts/hosts";
import { registerV1 } from "./api/v1/index";
import { registerInfo } from "./api/v1/info";
import { registerVmApi } from "./api/v1/vms/routes";
import { syncAuthorizer } from "./authz/sync";
import type { Deps } from "./deps";
import { ensureHostGrace } from "./domain/hosts/grace";
import { accessLog } from "./http/access-log";
import { authenticate } from "./http/auth";
import { formBodyGuard, jsonBodyGuard } from "./http/body-guard";
import { noStore } from "./http/cache-control";
import { csrfProtection } from "./http/csrf";
import { onError, onNotFound } from "./http/errors";
import { problemResponse } from "./http/problem";
import { securityHeaders } from "./http/security-headers";
import { registerWeb } from "./web";

export type App = Router;

/**
 * The composition root: builds the whole control plane from explicit dependencies. The middleware
 * order matters: the request id exists before anything logs, headers wrap every response (errors
 * included), and body checks run before any route parses a body.
 */
export function createApp(deps: Deps): App {
  const app = createRouter();

  app.use(async function provideDeps(c, next) {
    c.set("deps", deps);
    // Once per process/isolate: whether hosts get the restart grace period (cheap afterwards).
    await ensureHostGrace(deps);
    await next();
  });
  // Accept a caller's id only if it is short and plain; otherwise mint our own.
  app.use(requestId({ limitLength: 128, generator: () => deps.ids.next("request") }));
  app.use(accessLog());
  app.use(securityHeaders());
  app.use(noStore());
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) => {
        c.header("Allow", allowed.join(", "));
        return problemResponse(c, {
          code: "method_not_allowed",
          detail: `${c.req.method} is not supported here; use ${allowed.join(", ")}.`,
        });
      },
    }),
  );
  if (deps.staticAssets) app.use("/static/*", deps.staticAssets);
  app.use("/api/*", jsonBodyGuard(deps.config.maxBodyBytes));
  app.use(formBodyGuard(deps.config.maxBodyBytes));
  // Agents authenticate with their own access tokens (src/api/agent), not as users or API tokens:
  // registered before `authenticate` so that middleware never sees their bearer tokens.
  registerAgentApi(app);
  // Who is calling, then whether a cookie-borne mutation really came from our pages.
  app.use(authenticate());
  app.use(csrfProtection());
  // With an external Permify, a mutation's relationship changes reach it before the response
  // does, so the caller's next request is checked against them (the outbox keeps retrying).
  app.use(async function syncRelationships(c, next) {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD") await syncAuthorizer(deps);
  });

  registerHealth(app);
  registerInfo(app);
  registerAuth(app);
  registerV1(app);
  registerHosts(app);
  registerVmApi(app);
  registerWeb(app);
  registerDocs(app);

  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}
