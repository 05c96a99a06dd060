import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { registerDocs } from "./api/docs";
import { createRouter, type Router } from "./api/router";
import { registerHealth } from "./api/system/health";
import { registerInfo } from "./api/v1/info";
import type { Deps } from "./deps";
import { accessLog } from "./http/access-log";
import { jsonBodyGuard } from "./http/body-guard";
import { onError, onNotFound } from "./http/errors";
import { problemResponse } from "./http/problem";
import { securityHeaders } from "./http/security-headers";

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
    await next();
  });
  // Accept a caller's id only if it is short and plain; otherwise mint our own.
  app.use(requestId({ limitLength: 128, generator: () => deps.ids.next("request") }));
  app.use(accessLog());
  app.use(securityHeaders());
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

  registerHealth(app);
  registerInfo(app);
  registerDocs(app);

  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}
